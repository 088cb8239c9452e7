#!lua flags=no-writes,allow-cross-slot-keys
--[[
  Reads indexes of records (includes/txRecord.lua): the open records, scored by lease end in this
  node's clock, which the recovery sweep and the operator read; or the parked ones. Writes nothing.
  KEYS[1]   an index
  ARGV[1]   0: count the subjects, and those scored up to now (for open records: lease run out);
            n > 0: return up to n subjects, and count nothing
  ARGV[2]   'due': return only subjects scored up to now (the sweep's); 'all': any
  ARGV[3..] more indexes served by this node. In cluster mode each slot has its own index, and
            these are other slots' (undeclared keys of other slots, which allow-cross-slot-keys
            lets a script read when this node serves them), so one call reads many slots.
  Returns {count, due, subject...}: the counts (0 when ARGV[1] > 0) and the subjects (none when
          ARGV[1] is 0)
]]
--@include "includes/clock.lua"
local now = tx_now()
local limit = tonumber(ARGV[1])
local upto = ARGV[2] == 'all' and '+inf' or now
local reply = {0, 0}
local function read(index)
  if limit == 0 then
    local count = redis.call('ZCARD', index)
    if count > 0 then
      reply[1] = reply[1] + count
      reply[2] = reply[2] + redis.call('ZCOUNT', index, '-inf', now)
    end
    return
  end
  local room = limit - (#reply - 2)
  if room <= 0 then return end
  for _, subject in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', upto, 'LIMIT', 0, room)) do reply[#reply + 1] = subject end
end
-- One command per index: even with allow-cross-slot-keys, one command may not name keys of
-- several slots (a multi-key EXISTS over them fails).
read(KEYS[1])
for i = 3, #ARGV do read(ARGV[i]) end
return reply
