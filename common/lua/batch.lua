--[[
  The batch form of every script (Shards.run in common/redis.ts): the calls of one script that
  reach one partition in the same turn of the event loop run in one EVALSHA, each as if it were
  alone, one after the other. The script's text takes the place of the line `--@script` below, as
  the body of one(KEYS, ARGV), so the KEYS and ARGV it reads are its own call's.
  KEYS       every call's keys, call after call
  ARGV[1]    n, the number of calls; ARGV[1 + i] call i's key count; ARGV[1 + n + i] its argument
             count; then every call's arguments, call after call
  Returns one reply per call, in order: the script's reply (false for none), or the error it
  raised (an error reply in the array), which fails that call alone
]]
local function one(KEYS, ARGV)
--@script
end

local n = tonumber(ARGV[1])
local replies, k, a = {}, 0, 2 * n + 1
for i = 1, n do
  local key_count, arg_count = tonumber(ARGV[1 + i]), tonumber(ARGV[1 + n + i])
  local keys, argv = {}, {}
  for j = 1, key_count do keys[j] = KEYS[k + j] end
  for j = 1, arg_count do argv[j] = ARGV[a + j] end
  k, a = k + key_count, a + arg_count
  local ok, reply = pcall(one, keys, argv)
  if ok then
    if reply == nil then reply = false end
    replies[i] = reply
  else
    replies[i] = type(reply) == 'table' and reply.err and reply or {err = tostring(reply)}
  end
end
return replies
