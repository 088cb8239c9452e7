--[[
  Adds credit to a user.
  KEYS[1] user credit                 user:{id}
  ARGV[1] amount (>= 1), ARGV[2] largest storable value (2^53-1)
  Returns {'ok', new credit} | {'not_found'} | {'overflow'}
]]
local credit = redis.call('GET', KEYS[1])
if not credit then return {'not_found'} end
if tonumber(ARGV[1]) > tonumber(ARGV[2]) - tonumber(credit) then return {'overflow'} end
return {'ok', redis.call('INCRBY', KEYS[1], ARGV[1])}
