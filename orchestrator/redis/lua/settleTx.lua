--[[
  Closes committed transactions (a batch, all in one partition) once every participant confirmed
  them. A record that holds another transaction, or this one not committed, is left alone.
  Idempotent.
  KEYS[i]   the record of transaction i (i = 1..n), KEYS[n+1] their partition's open records,
            KEYS[n+2] its parked records (sorted sets)
  ARGV[i]   transaction id i, ARGV[n+i] its subject
  Returns {'settled', records closed by this call}
]]
--@include "includes/txRecord.lua"
local n = #KEYS - 2
local closed = {}
for i = 1, n do
  local r = redis.call('HMGET', KEYS[i], 'tx', 'tx_state', 'tx_parked')
  if r[1] == ARGV[i] and r[2] == 'committed' then
    redis.call('HDEL', KEYS[i], unpack(TX_OPEN_FIELDS))
    tx_unpark(KEYS[n + 2], ARGV[n + i], r[3])
    closed[#closed + 1] = ARGV[n + i]
  end
end
-- One ZREM for the batch: the open records' index is the partition's, shared by all of them.
if #closed > 0 then redis.call('ZREM', KEYS[n + 1], unpack(closed)) end
return {'settled', #closed}
