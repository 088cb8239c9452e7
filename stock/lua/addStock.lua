--[[
  Adds units to an item's stock.
  KEYS[1] item hash                   item:{id}
  ARGV[1] amount (>= 1), ARGV[2] largest storable value (2^53-1)
  Returns {'ok', new stock} | {'not_found'} | {'overflow'}
]]
local stock = redis.call('HGET', KEYS[1], 'stock')
if not stock then return {'not_found'} end
if tonumber(ARGV[1]) > tonumber(ARGV[2]) - tonumber(stock) then return {'overflow'} end
return {'ok', redis.call('HINCRBY', KEYS[1], 'stock', ARGV[1])}
