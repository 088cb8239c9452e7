--[[
  Creates an empty, unpaid order.
  KEYS[1] order hash                  order:{id}
  ARGV[1] user id
  Returns {'ok'}
]]
redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'paid', 0, 'total_cost', 0)
return {'ok'}
