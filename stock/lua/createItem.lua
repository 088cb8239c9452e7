--[[
  Creates an item with no stock at a fixed price (prices never change afterwards).
  KEYS[1] item hash                   item:{id}
  ARGV[1] price                       decimal integer >= 0
  Returns {'ok'}
]]
redis.call('HSET', KEYS[1], 'stock', 0, 'price', ARGV[1])
return {'ok'}
