--[[
  2PC abort: gives back what a transaction set aside on this shard and makes it final here, so a
  prepare of it that arrives late is refused. Idempotent.
  KEYS[2i-1] item hash                item:{id}
  KEYS[2i]   the item's transaction marker   item:{id}:tx:<tx>
  ARGV[1]    transaction id, ARGV[2] window in ms
  Returns {'done', units given back by this call}
             | {'refused', 'confirmed' | 'other_protocol'}: confirmed already, or not a 2PC marker; nothing changed
]]
--@include "includes/stockPhases.lua"
return stock_cancel(true)
