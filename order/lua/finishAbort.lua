--[[
  Closes an aborted checkout once every participant confirmed its compensation; the order can then
  be checked out again. Idempotent.
  KEYS[1] order hash                  order:{id}
  KEYS[2] transactions to recover     checkouts:pending
  ARGV[1] transaction id, ARGV[2] order id
  Returns {'finished', 'committed' | abort reason} | {'unknown'}
]]
local order = redis.call('HMGET', KEYS[1], 'tx', 'tx_state', 'tx_reason', 'last_tx', 'last_outcome')
if order[1] == ARGV[1] and order[2] == 'aborting' then
  redis.call('HSET', KEYS[1], 'last_tx', ARGV[1], 'last_outcome', order[3])
  redis.call('HDEL', KEYS[1], 'tx', 'tx_state', 'tx_reason', 'tx_lease', 'tx_owner')
  redis.call('ZREM', KEYS[2], ARGV[2])
  return {'finished', order[3]}
end
if order[4] == ARGV[1] then return {'finished', order[5]} end
return {'unknown'}
