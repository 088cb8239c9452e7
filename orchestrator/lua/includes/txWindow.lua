--[[
  Included by participants' phase scripts. A transaction id is a UUIDv7: its first 48 bits are its
  creation time in ms. A try is accepted only while that time is within ARGV-given bound of this
  shard's clock, either way, so markers that hold nothing need to outlive only that window.

  tx_remaining_ms(tx, bound_ms)
    ms until a try of tx can no longer be accepted here (<= 0: never again).
  tx_open(remaining, bound_ms)
    whether a try may be accepted now.
  tx_final_marker(key, value, remaining)
    writes a marker that holds nothing ('c', 'x', 'x:<reason>'), expiring a minute after the window
    closes; once it is closed no such marker is needed, so the key is deleted instead.
  tx_expire_marker(key, remaining)
    the same for a marker whose value stays (a saga step's, once its transaction committed).
]]
local function tx_remaining_ms(tx, bound_ms)
  local created = tonumber(string.sub(tx, 1, 8) .. string.sub(tx, 10, 13), 16) or 0
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return created + bound_ms - now
end

local function tx_open(remaining, bound_ms)
  return remaining > 0 and remaining <= 2 * bound_ms
end

local function tx_final_marker(key, value, remaining)
  if remaining > 0 then
    redis.call('SET', key, value, 'PX', math.floor(remaining) + 60000)
  else
    redis.call('DEL', key)
  end
end

local function tx_expire_marker(key, remaining)
  if remaining > 0 then
    return redis.call('PEXPIRE', key, math.floor(remaining) + 60000)
  end
  return redis.call('DEL', key)
end
