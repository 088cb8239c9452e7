--[[
  Refunds the payment made for an order, exactly once: the record is consumed by the refund.
  KEYS[1] user credit                 user:{id}
  KEYS[2] order payment               user:{id}:order:<order id>
  Returns {'ok', refunded amount (0 when there was nothing to refund)} | {'not_found'}
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
local paid = redis.call('GET', KEYS[2])
if not paid then return {'ok', 0} end
redis.call('INCRBY', KEYS[1], paid)
redis.call('DEL', KEYS[2])
return {'ok', tonumber(paid)}
