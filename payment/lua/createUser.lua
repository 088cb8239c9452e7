--[[
  Creates a user with no credit.
  KEYS[1] user credit                 user:{id}
  Returns {'ok'}
]]
redis.call('SET', KEYS[1], 0)
return {'ok'}
