--[[
  Saga forget, for a batch of committed transactions: their stock stays taken, and their markers
  become confirmed ('saga:c': a replayed step still answers done, a late compensation changes
  nothing) and expire once the transactions' windows close. Idempotent.
  KEYS[2i-1] item hash                item:{id}
  KEYS[2i]   an item's transaction marker    item:{id}:tx:<tx>
  ARGV[i]    the transaction id of pair i (i = 1..n), ARGV[n+1] window in ms
  Returns {'done', units confirmed by this call}
]]
--@include "includes/stockPhases.lua"
return stock_confirm(false)
