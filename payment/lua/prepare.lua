--[[
  2PC prepare: sets aside one transaction's total from a user. Set-aside credit is not available
  to anyone else (it leaves the credit) and is counted in the held key until the commit spends it
  or the abort gives it back. Idempotent; final once aborted.
  KEYS[1] user credit                 user:{id}
  KEYS[2] transaction marker          user:{id}:tx:<tx>
  KEYS[3] credit set aside (2PC)      user:{id}:held
  ARGV[1] amount (>= 0), ARGV[2] transaction id, ARGV[3] window in ms
  Returns {'done'} | {'refused', reason}
          with reason 'insufficient_credit' | 'unknown_user' | 'compensated' | 'expired'
]]
--@include "includes/creditPhases.lua"
return credit_try(true)
