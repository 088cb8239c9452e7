--[[
  Creates an empty, unpaid order; an order that exists already (an id derived from an
  Idempotency-Key whose record expired) is left as it is.
  KEYS[1] order hash                  order:{id}
  ARGV[1] user id
  Returns {'ok'}
]]
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'paid', 0, 'total_cost', 0) end
return {'ok'}
