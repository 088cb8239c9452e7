--[[
  2PC prepare: sets aside the stock of one transaction's items on this shard, all of them or none.
  Set-aside stock is not available to anyone else (it leaves `stock`) and is counted in the item's
  `held` field until the commit spends it or the abort gives it back. Idempotent; final once aborted.
  KEYS  per item, its hash item:{id} then its marker item:{id}:tx:<tx> (as step.lua)
  ARGV  per item its quantity, then the transaction id, then the window in ms
  Returns {'done'}, or {'refused', 'insufficient_stock' | 'unknown_item' | 'compensated' | 'expired'}
]]
--@include "includes/stockPhases.lua"
return stock_try(true)
