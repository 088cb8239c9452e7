--[[
  The commit point of a checkout: marks the order paid, unless an abort was decided first.
  Idempotent: repeating it for a finished transaction returns that transaction's outcome.
  KEYS[1] order hash                  order:{id}
  KEYS[2] transactions to recover     checkouts:pending
  ARGV[1] transaction id, ARGV[2] order id
  Returns {'finished', 'committed' | abort reason} | {'aborting', reason} | {'unknown'}
]]
local order = redis.call('HMGET', KEYS[1], 'tx', 'tx_state', 'tx_reason', 'last_tx', 'last_outcome')
if order[1] == ARGV[1] then
  if order[2] ~= 'trying' then return {'aborting', order[3]} end
  redis.call('HSET', KEYS[1], 'paid', 1, 'last_tx', ARGV[1], 'last_outcome', 'committed')
  redis.call('HDEL', KEYS[1], 'tx', 'tx_state', 'tx_reason', 'tx_lease', 'tx_owner')
  redis.call('ZREM', KEYS[2], ARGV[2])
  return {'finished', 'committed'}
end
if order[4] == ARGV[1] then return {'finished', order[5]} end
return {'unknown'}
