--[[
  Saga compensation: gives back what a transaction took and makes it final, so a charge of it
  that arrives late is refused. Idempotent.
  KEYS[1] user credit                 user:{id}
  KEYS[2] transaction marker          user:{id}:tx:<tx>
  KEYS[3] credit set aside (2PC)      user:{id}:held (unused by the saga)
  ARGV[1] transaction id, ARGV[2] window in ms, ARGV[3] its amount (0: nothing to stop)
  Returns {'done', credit returned by this call}
          | {'refused', 'confirmed' | 'other_protocol'}: confirmed already, or not a saga marker; nothing changed
]]
--@include "includes/creditPhases.lua"
return credit_cancel(false)
