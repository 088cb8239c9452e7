--[[
  Creates or overwrites users, all with the same credit.
  KEYS[1..n] user credits              user:{id}
  ARGV[1] credit                      decimal integer
  Returns {'ok', n}
]]
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1])
end
return {'ok', #KEYS}
