--[[
  The commit point: the transaction is committed, unless an abort was decided first. Also sets the
  subject's own fields that say so (e.g. an order's paid), in the same write. The record stays
  open until every participant confirmed (settleTx). Idempotent.
  KEYS[1] the record (the subject's hash)
  ARGV[1] transaction id, ARGV[2..] field, value pairs to set on the subject at commit
  Returns {'committed'} | {'aborting', reason} | {'aborted', reason} | {'unknown'}
]]
--@include "includes/txRecord.lua"
local r = redis.call('HMGET', KEYS[1], 'tx', 'tx_state', 'tx_reason', 'last_tx', 'last_outcome')
if r[1] ~= ARGV[1] then return tx_ended(ARGV[1], r[4], r[5]) end
if r[2] == 'aborting' then return {'aborting', r[3]} end
if r[2] == 'trying' then
  redis.call('HSET', KEYS[1], 'tx_state', 'committed', 'last_tx', ARGV[1], 'last_outcome', 'committed', unpack(ARGV, 2))
end
return {'committed'}
