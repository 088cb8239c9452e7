--[[
  The abort decision: from here on the transaction can never commit, and its participants are
  cancelled. Idempotent: the first reason recorded stays.
  KEYS[1] the record (the subject's hash)
  ARGV[1] transaction id, ARGV[2] reason
  Returns {'aborting', reason} | {'committed'} | {'aborted', reason} | {'unknown'}
]]
--@include "includes/txRecord.lua"
local r = redis.call('HMGET', KEYS[1], 'tx', 'tx_state', 'tx_reason', 'last_tx', 'last_outcome')
if r[1] ~= ARGV[1] then return tx_ended(ARGV[1], r[4], r[5]) end
if r[2] == 'committed' then return {'committed'} end
if r[2] == 'aborting' then return {'aborting', r[3]} end
redis.call('HSET', KEYS[1], 'tx_state', 'aborting', 'tx_reason', ARGV[2])
return {'aborting', ARGV[2]}
