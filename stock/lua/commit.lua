--[[
  2PC commit, for a batch of committed transactions: spends what each set aside (it leaves `held`),
  and their markers now hold nothing, so they expire once the windows close. Idempotent.
  KEYS[2i-1] item hash                item:{id}
  KEYS[2i]   an item's transaction marker    item:{id}:tx:<tx>
  ARGV[i]    the transaction id of pair i (i = 1..n), ARGV[n+1] window in ms
  Returns {'done', units spent by this call}
]]
--@include "includes/stockPhases.lua"
return stock_confirm(true)
