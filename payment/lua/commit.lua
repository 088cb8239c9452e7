--[[
  2PC commit, for a batch of committed transactions: spends what each set aside (it leaves the
  held key), and their markers now hold nothing, so they expire once the windows close. Idempotent.
  KEYS[3i-2] user credit              user:{id}
  KEYS[3i-1] a transaction marker     user:{id}:tx:<tx>
  KEYS[3i]   credit set aside (2PC)   user:{id}:held
  ARGV[i]    the transaction id of triple i (i = 1..n), ARGV[n+1] window in ms
  Returns {'done', credit spent by this call}
]]
--@include "includes/creditPhases.lua"
return credit_confirm(true)
