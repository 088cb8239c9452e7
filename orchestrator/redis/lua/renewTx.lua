--[[
  Extends the lease of a transaction its driver is still driving, so a drive that waits on a slow
  participant keeps it, while a driver that died loses it within one lease.
  KEYS[1] the record (the subject's hash), KEYS[2] its partition's open records (sorted set)
  ARGV[1] transaction id, ARGV[2] the owner the lease must still be held by, ARGV[3] lease ms,
  ARGV[4] subject
  Returns 1 (renewed) | 0 (the record holds another transaction, or another owner took it over)
]]
--@include "includes/txRecord.lua"
local r = redis.call('HMGET', KEYS[1], 'tx', 'tx_owner')
if r[1] ~= ARGV[1] or r[2] ~= ARGV[2] then return 0 end
local lease_end = tx_now() + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'tx_lease', lease_end)
redis.call('ZADD', KEYS[2], lease_end, ARGV[4])
return 1
