--[[
  Saga step: takes one transaction's total from a user.
  Idempotent: a replay answers as the first call did. Final: once the transaction was refunded
  (or refused), it never takes credit again.
  KEYS[1] user credit                 user:{id}
  KEYS[2] transaction marker          user:{id}:tx:<tx>
  ARGV[1] amount (>= 0), ARGV[2] marker lifetime in seconds
  Returns {'charged'} | {'refused', reason} with reason 'insufficient_credit' | 'unknown_user' | 'compensated'
  The marker holds the amount taken while held; once final without holding credit, 'x'
  (compensated) or 'x:<reason>' (refused), so a replay gives the same answer.
]]
local seen = redis.call('GET', KEYS[2])
if seen then
  if tonumber(seen) then return {'charged'} end
  return {'refused', string.sub(seen, 3) ~= '' and string.sub(seen, 3) or 'compensated'}
end

local credit = redis.call('GET', KEYS[1])
local reason
if not credit then
  reason = 'unknown_user'
elseif tonumber(credit) < tonumber(ARGV[1]) then
  reason = 'insufficient_credit'
end
if reason then
  -- A refusal is final as well: a retried step must not succeed after the order gave up on it.
  redis.call('SET', KEYS[2], 'x:' .. reason, 'EX', ARGV[2])
  return {'refused', reason}
end

redis.call('DECRBY', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return {'charged'}
