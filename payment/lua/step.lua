--[[
  Saga step: takes one transaction's total from a user.
  Idempotent: a replay answers as the first call did. Final: once the transaction was refunded
  (or refused), it never takes credit again.
  KEYS[1] user credit                 user:{id}
  KEYS[2] transaction marker          user:{id}:tx:<tx>
  KEYS[3] credit set aside (2PC)      user:{id}:held (unused by the saga)
  ARGV[1] amount (>= 0), ARGV[2] transaction id, ARGV[3] window in ms
  Returns {'done'} | {'refused', reason}
          with reason 'insufficient_credit' | 'unknown_user' | 'compensated' | 'expired'
]]
--@include "includes/creditPhases.lua"
return credit_try(false)
