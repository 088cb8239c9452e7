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
  local marker = redis.call('GET', KEYS[2 * i])
  local held = tonumber(marker)
  if held then
    redis.call('HINCRBY', KEYS[2 * i - 1], 'stock', marker)
    returned = returned + held
  end
  -- A refusal marker already makes the transaction final; keep its reason.
  if held or not marker then redis.call('SET', KEYS[2 * i], 'x', 'EX', ARGV[1]) end
end
return {'released', returned}
