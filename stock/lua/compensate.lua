--[[
  Saga compensation: returns what a transaction holds on this shard and makes it final here, so a
  reserve of it that arrives late is refused. Idempotent.
  KEYS[2i-1] item hash                item:{id}
  KEYS[2i]   the item's transaction marker   item:{id}:tx:<tx>
  ARGV[1]    transaction id, ARGV[2] window in ms
  Returns {'done', units returned by this call}
             | {'refused', 'confirmed' | 'other_protocol'}: confirmed already, or not a saga marker; nothing changed
]]
--@include "includes/stockPhases.lua"
return stock_cancel(false)
