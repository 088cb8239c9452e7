--[[
  Included by participants' phase scripts. A transaction id is a UUIDv7: its first 48 bits are its
  creation time in ms. A try is accepted only while that time is within ARGV-given bound of this
  shard's clock, either way, so markers that hold nothing need to outlive only that window.

  tx_remaining_ms(tx, bound_ms, now)
    ms until a try of tx can no longer be accepted here (<= 0: never again); `now` (this shard's
    clock in ms, tx_clock()) may be given when one script asks for many transactions.
  tx_open(remaining, bound_ms)
    whether a try may be accepted now.
  tx_final_marker(key, value, remaining)
    writes a marker that holds nothing ('c', 'x', 'x:<reason>'), expiring a minute after the window
    closes; once it is closed no such marker is needed, so the key is deleted instead.
  tx_replay(seen, done)
    the answer to a try that found a marker (`seen`): {done} if it holds or was confirmed, else the
    refusal it records ('compensated' for a plain 'x'), so a replay answers as the first call did.
  tx_expire_marker(key, remaining)
    the same for a marker whose value stays (a saga step's, once its transaction committed).
  tx_confirm_all(stride, at, spend)
    a batch confirm: KEYS in groups of `stride` with the marker at position `at` of each,
    ARGV[i] the transaction id of group i and ARGV[n+1] the window. With `spend` (2PC), each held
    marker's amount is passed to spend(first key index - 1, amount) and the marker becomes 'c';
    without (saga), each marker keeps its value and starts to expire. Returns the amount spent
    (2PC) or the markers set to expire (saga).
]]
local function tx_clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function tx_remaining_ms(tx, bound_ms, now)
  local created = tonumber(string.sub(tx, 1, 8) .. string.sub(tx, 10, 13), 16) or 0
  return created + bound_ms - (now or tx_clock())
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

local function tx_replay(seen, done)
  if seen == 'c' or tonumber(seen) then return {done} end
  return {'refused', string.sub(seen, 3) ~= '' and string.sub(seen, 3) or 'compensated'}
end

local function tx_expire_marker(key, remaining)
  if remaining > 0 then
    return redis.call('PEXPIRE', key, math.floor(remaining) + 60000)
  end
  return redis.call('DEL', key)
end

local function tx_confirm_all(stride, at, spend)
  local n = #KEYS / stride
  local bound = tonumber(ARGV[n + 1])
  local now = tx_clock()
  local confirmed = 0
  for i = 1, n do
    local base = stride * (i - 1)
    local remaining = tx_remaining_ms(ARGV[i], bound, now)
    if spend then
      local held = tonumber(redis.call('GET', KEYS[base + at]))
      if held then
        spend(base, held)
        tx_final_marker(KEYS[base + at], 'c', remaining)
        confirmed = confirmed + held
      end
    else
      confirmed = confirmed + tx_expire_marker(KEYS[base + at], remaining)
    end
  end
  return confirmed
end
