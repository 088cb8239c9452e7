--[[
  Creates or overwrites items, all with the same stock and price.
  KEYS[1..n] item hashes               item:{id}
  ARGV[1] stock, ARGV[2] price        decimal integers
  Returns {'ok', n}
]]
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'stock', ARGV[1], 'price', ARGV[2])
end
return {'ok', #KEYS}
