--[[
  Creates an item with no stock at a fixed price (prices never change afterwards); an item that
  exists already (an id derived from an Idempotency-Key whose record expired) is left as it is.
  KEYS[1] item hash                   item:{id}
  ARGV[1] price                       decimal integer >= 0
  Returns {'ok'}
]]
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], 'stock', 0, 'price', ARGV[1]) end
return {'ok'}
