--[[
  Saga step: takes the stock of one transaction's items on this shard, all of them or none.
  Idempotent: a replay answers as the first call did. Final: once the transaction was released
  (or refused) here, it never takes stock again.
  KEYS[2i-1] item hash                item:{id}
  KEYS[2i]   the item's transaction marker   item:{id}:tx:<tx>
  ARGV[i]    quantity of item i (i = 1..n), ARGV[n+1] transaction id, ARGV[n+2] window in ms
  Returns {'done'} | {'refused', reason}
          with reason 'insufficient_stock' | 'unknown_item' | 'compensated' | 'expired'
]]
--@include "includes/stockPhases.lua"
return stock_try(false)
