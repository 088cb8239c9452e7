--[[
  A drive that ended with its transaction still open (a cancel or confirm was not applied): counts
  it and keeps what each participant answered, for the operator. Asked to park it (it has failed
  for longer than the park bound), it is left to the sweep only every `retry` ms: its lease runs
  that long, and requests are answered that it is parked (tx_begin). Closing the record unparks it.
  KEYS[1] the record (the subject's hash), KEYS[2] its partition's open records, KEYS[3] its
          partition's parked records (sorted sets)
  ARGV[1] transaction id, ARGV[2] the participants' outcomes (text), ARGV[3] '1' to park,
  ARGV[4] ms until the sweep retries a parked one, ARGV[5] subject
  Returns {'open', failures so far} | {'parked', failures so far} | {'unknown'} (not open any more)
]]
--@include "includes/txRecord.lua"
local r = redis.call('HMGET', KEYS[1], 'tx', 'tx_state')
if r[1] ~= ARGV[1] or r[2] == 'trying' then return {'unknown'} end
local failures = redis.call('HINCRBY', KEYS[1], 'tx_failures', 1)
redis.call('HSET', KEYS[1], 'tx_error', ARGV[2])
if ARGV[3] ~= '1' then return {'open', failures} end
local now = tx_now()
local retry_at = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'tx_parked', '1', 'tx_lease', retry_at, 'tx_owner', 'parked')
redis.call('ZADD', KEYS[2], retry_at, ARGV[5])
redis.call('ZADD', KEYS[3], 'NX', now, ARGV[5])
return {'parked', failures}
