--[[
  Idempotency-Key records. common/redis.ts wraps a script that a key may guard between this
  prelude and `idem_keep`, so the change and its record are written by one script (atomic):
    KEYS[#KEYS]     the record: a list beside the entity the script changes, in its slot
                    (<entity key>:idem:<key digest>)
    ARGV[#ARGV-1]   the request's fingerprint (a digest of its route and parameters)
    ARGV[#ARGV]     the record's lifetime in ms
  Both are taken off KEYS and ARGV before the script runs, so it sees its own as always.
  The record holds the fingerprint, then the script's reply, each element tagged by type ('i'
  integer, 's' string), so that a repeat gets back exactly the reply the first request got.
  Replies: the script's own the first time; the recorded one on a repeat with the same
  fingerprint; {'idempotency_conflict'} when the key was used for another request.
]]
local IDEM_RECORD = table.remove(KEYS)
local IDEM_TTL_MS = table.remove(ARGV)
local IDEM_FINGERPRINT = table.remove(ARGV)

local function idem_replay()
  local stored = redis.call('LRANGE', IDEM_RECORD, 0, -1)
  if #stored == 0 then return nil end
  if stored[1] ~= IDEM_FINGERPRINT then return {'idempotency_conflict'} end
  local reply = {}
  for i = 2, #stored do
    local tag, value = string.sub(stored[i], 1, 1), string.sub(stored[i], 2)
    reply[i - 1] = tag == 'i' and tonumber(value) or value
  end
  return reply
end

local function idem_keep(reply)
  local record = {IDEM_FINGERPRINT}
  for i, v in ipairs(reply) do
    record[i + 1] = type(v) == 'number' and string.format('i%d', v) or 's' .. v
  end
  redis.call('RPUSH', IDEM_RECORD, unpack(record))
  redis.call('PEXPIRE', IDEM_RECORD, IDEM_TTL_MS)
  return reply
end
