--[[
  Closes an aborted transaction once every participant confirmed its cancel; the subject may then
  start another. Idempotent.
  KEYS[1] the record (the subject's hash), KEYS[2] its partition's open records, KEYS[3] its
          partition's parked records (sorted sets)
  ARGV[1] transaction id, ARGV[2] subject
  Returns {'aborted', reason} | {'committed'} | {'aborting', reason} (still open: not aborting
  yet, which no caller should see) | {'unknown'}
]]
--@include "includes/txRecord.lua"
local r = redis.call('HMGET', KEYS[1], 'tx', 'tx_state', 'tx_reason', 'last_tx', 'last_outcome', 'tx_parked')
if r[1] ~= ARGV[1] then return tx_ended(ARGV[1], r[4], r[5]) end
if r[2] == 'committed' then return {'committed'} end
if r[2] ~= 'aborting' then return {'aborting', ''} end
redis.call('HSET', KEYS[1], 'last_tx', ARGV[1], 'last_outcome', r[3])
redis.call('HDEL', KEYS[1], unpack(TX_OPEN_FIELDS))
redis.call('ZREM', KEYS[2], ARGV[2])
tx_unpark(KEYS[3], ARGV[2], r[6])
return {'aborted', r[3]}
