--[[
  Takes units from an item's stock, never below zero.
  KEYS[1] item hash                   item:{id}
  ARGV[1] amount (>= 1)
  Returns {'ok', new stock} | {'not_found'} | {'insufficient', stock}
]]
local stock = redis.call('HGET', KEYS[1], 'stock')
if not stock then return {'not_found'} end
if tonumber(stock) < tonumber(ARGV[1]) then return {'insufficient', tonumber(stock)} end
return {'ok', redis.call('HINCRBY', KEYS[1], 'stock', '-' .. ARGV[1])}
