--[[
  2PC prepare: sets aside the stock of one transaction's items on this shard, all of them or none.
  Set-aside stock is not available to anyone else (it leaves `stock`) and is counted in the item's
  `held` field until the commit spends it or the abort gives it back. Idempotent; final once aborted.
  KEYS[2i-1] item hash                item:{id}
  KEYS[2i]   the item's transaction marker   item:{id}:tx:<tx>
  ARGV[i]    quantity of item i (i = 1..n), ARGV[n+1] transaction id, ARGV[n+2] window in ms
  Returns {'prepared'} | {'refused', reason}
          with reason 'insufficient_stock' | 'unknown_item' | 'compensated' | 'expired'
]]
--@include "includes/stockPhases.lua"
return stock_try(true, 'prepared')
