--[[
  2PC abort: gives back what a transaction set aside and makes it final, so a prepare of it that
  arrives late is refused. Idempotent.
  KEYS[1] user credit                 user:{id}
  KEYS[2] transaction marker          user:{id}:tx:<tx>
  KEYS[3] credit set aside (2PC)      user:{id}:held
  ARGV[1] transaction id, ARGV[2] window in ms, ARGV[3] its amount (0: nothing to stop)
  Returns {'done', credit given back by this call}
          | {'refused', 'confirmed' | 'other_protocol'}: confirmed already, or not a 2PC marker; nothing changed
]]
--@include "includes/creditPhases.lua"
return credit_cancel(true)
