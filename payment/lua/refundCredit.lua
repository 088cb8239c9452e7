--[[
  Saga compensation: gives back what a transaction took and makes it final, so a charge of it
  that arrives late is refused. Idempotent.
  KEYS[1] user credit                 user:{id}
  KEYS[2] transaction marker          user:{id}:tx:<tx>
  ARGV[1] marker lifetime in seconds
  Returns {'refunded', amount returned by this call}
]]
local marker = redis.call('GET', KEYS[2])
local held = tonumber(marker)
if held then redis.call('INCRBY', KEYS[1], marker) end
-- A refusal marker already makes the transaction final; keep its reason.
if held or not marker then redis.call('SET', KEYS[2], 'x', 'EX', ARGV[1]) end
return {'refunded', held or 0}
