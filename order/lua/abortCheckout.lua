--[[
  The abort decision of a checkout: from here on it can never commit, and its participants are
  compensated. Idempotent: the first reason recorded stays.
  KEYS[1] order hash                  order:{id}
  ARGV[1] transaction id, ARGV[2] reason
  Returns {'aborting', reason} | {'finished', 'committed' | abort reason} | {'unknown'}
]]
local order = redis.call('HMGET', KEYS[1], 'tx', 'tx_state', 'tx_reason', 'last_tx', 'last_outcome')
if order[1] == ARGV[1] then
  if order[2] == 'aborting' then return {'aborting', order[3]} end
  redis.call('HSET', KEYS[1], 'tx_state', 'aborting', 'tx_reason', ARGV[2])
  return {'aborting', ARGV[2]}
end
if order[4] == ARGV[1] then return {'finished', order[5]} end
return {'unknown'}
