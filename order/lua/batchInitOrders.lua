--[[
  Creates or overwrites orders, each for one user with two items of quantity 1.
  KEYS[2i-1] order hash               order:{id}
  KEYS[2i]   order items              order:{id}:items
  ARGV[1]    item price
  ARGV[3i-1], ARGV[3i], ARGV[3i+1]    user id, first item id, second item id of order i
  Returns {'ok', n}
]]
local price = ARGV[1]
local n = #KEYS / 2
for i = 1, n do
  local order, items = KEYS[2 * i - 1], KEYS[2 * i]
  local user, first, second = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
  redis.call('DEL', order, items)
  redis.call('HSET', order, 'user_id', user, 'paid', 0, 'total_cost', 2 * tonumber(price))
  if first == second then
    redis.call('HSET', items, first, '2:' .. price)
  else
    redis.call('HSET', items, first, '1:' .. price, second, '1:' .. price)
  end
end
return {'ok', n}
