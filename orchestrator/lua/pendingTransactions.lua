#!lua flags=no-writes,allow-cross-slot-keys
--[[
  The recovery sweep's read of open records: indexes of subjects with an open record, scored by
  lease end in this node's clock (see includes/txRecord.lua). Writes nothing.
  KEYS[1]   an index
  ARGV[1]   0: count the open records and those whose lease ran out; n > 0: return up to n
            subjects whose lease ran out, and count nothing (the sweep needs only them)
  ARGV[2..] more indexes served by this node. In cluster mode each slot has its own index, and
            these are other slots' (undeclared keys of other slots, which allow-cross-slot-keys
            lets a script read when this node serves them), so one call reads many slots.
  Returns {open, expired, subject...}: the counts (0 when ARGV[1] > 0) and the subjects (none
          when ARGV[1] is 0)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local reply = {0, 0}
local function read(index)
  if limit == 0 then
    local open = redis.call('ZCARD', index)
    if open > 0 then
      reply[1] = reply[1] + open
      reply[2] = reply[2] + redis.call('ZCOUNT', index, '-inf', now)
    end
    return
  end
  local room = limit - (#reply - 2)
  if room <= 0 then return end
  for _, subject in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, room)) do reply[#reply + 1] = subject end
end
-- One command per index: even with allow-cross-slot-keys, one command may not name keys of
-- several slots (a multi-key EXISTS over them fails).
read(KEYS[1])
for i = 2, #ARGV do read(ARGV[i]) end
return reply
