#!lua flags=no-writes,allow-cross-slot-keys
--[[
  The recovery sweep's read of open records: indexes of subjects with an open record, scored by
  lease end in this node's clock (see includes/txRecord.lua). Writes nothing.
  KEYS[1]   an index
  ARGV[1]   at most this many subjects whose lease ran out are returned (0: only the counts)
  ARGV[2..] more indexes served by this node. In cluster mode each slot has its own index, and
            these are other slots' (undeclared keys of other slots, which allow-cross-slot-keys
            lets a script read when this node serves them), so one call reads many slots.
  Returns {open, expired, subject...}: how many records are open, how many of them have a lease
          that ran out, and up to ARGV[1] of the latter's subjects
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local reply = {0, 0}
local function read(index)
  reply[1] = reply[1] + redis.call('ZCARD', index)
  local expired = redis.call('ZCOUNT', index, '-inf', now)
  reply[2] = reply[2] + expired
  local room = limit - (#reply - 2)
  if expired > 0 and room > 0 then
    for _, subject in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, room)) do reply[#reply + 1] = subject end
  end
end
read(KEYS[1])
for i = 2, #ARGV do read(ARGV[i]) end
return reply
