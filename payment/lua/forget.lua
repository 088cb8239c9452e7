--[[
  Saga forget, for a batch of committed transactions: their credit stays taken, and their markers
  become confirmed ('saga:c': a replayed step still answers done, a late compensation changes
  nothing) and expire once the transactions' windows close. Idempotent.
  KEYS[3i-2] user credit              user:{id}
  KEYS[3i-1] a transaction marker     user:{id}:tx:<tx>
  KEYS[3i]   credit set aside (2PC)   user:{id}:held
  ARGV[i]    the transaction id of triple i (i = 1..n), ARGV[n+1] window in ms
  Returns {'done', credit confirmed by this call}
]]
--@include "includes/creditPhases.lua"
return credit_confirm(false)
