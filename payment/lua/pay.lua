--[[
  Public payment: takes credit from a user, never below zero. With an order record key it is the
  order-aware variant: at most one payment per (user, order), so a repeated call charges nothing.
  KEYS[1] user credit                 user:{id}
  KEYS[2] optional order payment      user:{id}:order:<order id>
  ARGV[1] amount (>= 1)
  Returns {'ok', credit} | {'already_paid', credit} | {'not_found'} | {'insufficient', credit}
]]
local credit = redis.call('GET', KEYS[1])
if not credit then return {'not_found'} end
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return {'already_paid', tonumber(credit)} end
if tonumber(credit) < tonumber(ARGV[1]) then return {'insufficient', tonumber(credit)} end
local left = redis.call('DECRBY', KEYS[1], ARGV[1])
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[1]) end
return {'ok', left}
