--[[
  The marker protocol of orchestrator/participant.ts, included by participants' phase scripts.

  A marker's value is '<protocol>:<state>', the protocol being the one whose phase wrote it
  ('saga' or '2pc'), the state one of
    '<n>'         held: the try took n
    'c'           confirmed: final, what was taken stays taken (2PC: spent)
    'x'           cancelled: final, what was taken was given back (or the cancel came first)
    'x:<reason>'  refused: the try took nothing, for <reason>
  A phase of one protocol never acts on a marker of the other: it is refused and changes nothing.

  The window. A transaction id is a UUIDv7: its first 48 bits are its creation time in ms. A try
  is accepted only while that time is within the ARGV-given bound of this shard's clock, either
  way, so markers that hold nothing need to outlive only that window.

  tx_protocol(hold)
    the protocol whose phases hold (set aside) what a try takes, '2pc', or else 'saga'.
  tx_now()
    this shard's clock in ms.
  tx_remaining_ms(tx, bound_ms, now)
    ms until a try of tx can no longer be accepted here (<= 0: never again); `now` may be given
    when one script asks for many transactions.
  tx_open(remaining, bound_ms)
    whether a try may be accepted now.
  tx_state(value, protocol)
    a marker's state if it is of `protocol`; false if it is of the other; nil if there is none.
  tx_claim(key, protocol, held)
    a try's first step, in one command: writes the held marker '<protocol>:<held>' unless the key
    has a marker, and returns tx_state of the one it has (nil: it was written, and the try must
    now either keep it, or replace it with a final marker, or delete it).
  tx_final_marker(key, protocol, state, remaining, bound_ms)
    writes a marker that holds nothing ('c', 'x', 'x:<reason>'), expiring one more window after
    the window closes (a margin for a clock that steps back, which grows with the window); once it
    is closed no such marker is needed, so the key is deleted instead.
  tx_replay(state)
    the answer to a try that found its protocol's marker: {'done'} if it holds or was confirmed,
    else the refusal it records ('compensated' for a plain 'x'), so a replay answers as the
    first call did.
  tx_settled(state)
    for a cancel: the refusal word when the transaction is final the other way ('confirmed'),
    or of the other protocol ('other_protocol'); nil when the cancel may act.
  tx_cancel_one(key, protocol, tx, bound_ms, give_back, stop)
    the cancel of one marker: refused (nothing changed) when tx_settled says so; else a held
    amount is given back (`give_back(amount)`) and the marker made 'x', as is a missing one when
    `stop` (a try may still come, and must then be refused). Returns {'done', amount given back}
    or {'refused', word}.
  tx_confirm_all(protocol, stride, at, spend)
    a batch confirm: KEYS in groups of `stride` with the marker at position `at` of each,
    ARGV[i] the transaction id of group i and ARGV[n+1] the window. Each marker of `protocol`
    that holds an amount becomes 'c' (2PC passes `spend(first key index - 1, amount)`, which
    spends what was set aside); any other marker, or none, is left as it is (while the window
    is open the marker is written first and read back in one command, since it almost always
    holds; anything else is put back as it was). Returns the amount confirmed.
]]
local function tx_protocol(hold)
  return hold and '2pc' or 'saga'
end

--@include "clock.lua"

local function tx_remaining_ms(tx, bound_ms, now)
  local created = tonumber(string.sub(tx, 1, 8) .. string.sub(tx, 10, 13), 16) or 0
  return created + bound_ms - (now or tx_now())
end

local function tx_open(remaining, bound_ms)
  return remaining > 0 and remaining <= 2 * bound_ms
end

local function tx_state(value, protocol)
  if not value then return nil end
  local p, state = string.match(value, '^([^:]*):(.*)$')
  if p ~= protocol then return false end
  return state
end

local function tx_claim(key, protocol, held)
  return tx_state(redis.call('SET', key, protocol .. ':' .. held, 'NX', 'GET'), protocol)
end

local function tx_final_marker(key, protocol, state, remaining, bound_ms)
  if remaining > 0 then
    redis.call('SET', key, protocol .. ':' .. state, 'PX', math.floor(remaining + bound_ms))
  else
    redis.call('DEL', key)
  end
end

local function tx_replay(state)
  if state == 'c' or tonumber(state) then return {'done'} end
  return {'refused', string.sub(state, 3) ~= '' and string.sub(state, 3) or 'compensated'}
end

local function tx_settled(state)
  if state == false then return 'other_protocol' end
  if state == 'c' then return 'confirmed' end
  return nil
end

local function tx_cancel_one(key, protocol, tx, bound_ms, give_back, stop)
  local state = tx_state(redis.call('GET', key), protocol)
  local settled = tx_settled(state)
  if settled then return {'refused', settled} end
  local held = tonumber(state)
  if held then give_back(held) end
  -- A refusal or a cancel already makes the transaction final here; keep what it says.
  if held or (not state and stop) then tx_final_marker(key, protocol, 'x', tx_remaining_ms(tx, bound_ms), bound_ms) end
  return {'done', held or 0}
end

-- Puts back the marker `old` that a confirm overwrote (nil: there was none) while the window is
-- open: a held one without expiry, a final one with the expiry tx_final_marker gave it.
local function tx_put_back(key, old, remaining, bound_ms)
  if not old then
    redis.call('DEL', key)
  elseif tonumber(string.match(old, ':(.*)$')) then
    redis.call('SET', key, old)
  else
    redis.call('SET', key, old, 'PX', math.floor(remaining + bound_ms))
  end
end

local function tx_confirm_all(protocol, stride, at, spend)
  local n = #KEYS / stride
  local bound = tonumber(ARGV[n + 1])
  local now = tx_now()
  local confirmed = 0
  for i = 1, n do
    local base = stride * (i - 1)
    local key = KEYS[base + at]
    local remaining = tx_remaining_ms(ARGV[i], bound, now)
    local old
    if remaining > 0 then
      old = redis.call('SET', key, protocol .. ':c', 'PX', math.floor(remaining + bound), 'GET')
    else
      old = redis.call('GET', key)
    end
    local held = tonumber(tx_state(old, protocol))
    if held then
      if spend then spend(base, held) end
      -- Past the window a final marker is not needed (tx_final_marker).
      if remaining <= 0 then redis.call('DEL', key) end
      confirmed = confirmed + held
    elseif remaining > 0 then
      tx_put_back(key, old, remaining, bound)
    end
  end
  return confirmed
end
