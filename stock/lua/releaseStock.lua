--[[
  Saga compensation: returns what a transaction holds on this shard and makes it final here, so a
  reserve of it that arrives late is refused. Idempotent.
  KEYS[2i-1] item hash                item:{id}
  KEYS[2i]   the item's transaction marker   item:{id}:tx:<tx>
  ARGV[1]    marker lifetime in seconds
  Returns {'released', units returned by this call}
]]
local returned = 0
for i = 1, #KEYS / 2 do
  local held = redis.call('GET', KEYS[2 * i])
  if held and held ~= 'x' then
    redis.call('HINCRBY', KEYS[2 * i - 1], 'stock', held)
    returned = returned + tonumber(held)
  end
  redis.call('SET', KEYS[2 * i], 'x', 'EX', ARGV[1])
end
return {'released', returned}
