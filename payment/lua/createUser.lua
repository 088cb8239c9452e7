--[[
  Creates a user with no credit; a user that exists already (an id derived from an
  Idempotency-Key whose record expired) is left as it is.
  KEYS[1] user credit                 user:{id}
  Returns {'ok'}
]]
redis.call('SET', KEYS[1], 0, 'NX')
return {'ok'}
