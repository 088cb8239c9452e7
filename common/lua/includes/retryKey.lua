--[[
  Gateway retry-key records (common/idempotency.ts). A gateway sets a new random key on each public
  change and re-sends only that request, so a key is one request's: its record needs no
  fingerprint, and it is one string, written with its lifetime by one SET. common/idempotency.ts
  wraps a script between this prelude and `retry_keep`, so the change and its record are written
  by one script (atomic):
    KEYS[#KEYS]   the record, beside the entity the script changes, in its slot
                  (<entity key>:retry:<key digest>)
    ARGV[#ARGV]   the record's lifetime in ms
  Both are taken off KEYS and ARGV before the script runs, so it sees its own as always.
  Replies: the script's own the first time (an array of strings and integers); the recorded one on
  a repeat.
]]
local RETRY_RECORD = table.remove(KEYS)
local RETRY_TTL_MS = table.remove(ARGV)

local function retry_replay()
  local stored = redis.call('GET', RETRY_RECORD)
  if stored then return cjson.decode(stored) end
  return nil
end

local function retry_keep(reply)
  redis.call('SET', RETRY_RECORD, cjson.encode(reply), 'PX', RETRY_TTL_MS)
  return reply
end
