--[[
  Saga compensation: gives back what a transaction took and makes it final, so a charge of it
  that arrives late is refused. Idempotent.
  KEYS[1] user credit                 user:{id}
  KEYS[2] transaction marker          user:{id}:tx:<tx>
  ARGV[1] marker lifetime in seconds
  Returns {'refunded', amount returned by this call}
]]
local held = redis.call('GET', KEYS[2])
local returned = 0
if held and held ~= 'x' then
  redis.call('INCRBY', KEYS[1], held)
  returned = tonumber(held)
end
redis.call('SET', KEYS[2], 'x', 'EX', ARGV[1])
return {'refunded', returned}
