--[[
  The three phases of a transaction on a user's credit, shared by the saga and 2PC scripts; `hold`
  is true for 2PC, where taken credit is also counted in the user's held key until the commit
  spends it (or the abort gives it back). Markers follow the protocol in orchestrator/participant.ts.
  Layout of KEYS for every phase: triples (credit user:{id}, marker user:{id}:tx:<tx>,
  held credit user:{id}:held).
]]
--@include "../../../orchestrator/lua/includes/txWindow.lua"

local function hold_change(key, delta)
  if redis.call('INCRBY', key, delta) == 0 then redis.call('DEL', key) end
end

-- ARGV: amount (>= 0), tx id, window in ms.
-- Returns {done} | {'refused', 'insufficient_credit' | 'unknown_user' | 'compensated' | 'expired'}
local function credit_try(hold, done)
  local seen = redis.call('GET', KEYS[2])
  if seen then return tx_replay(seen, done) end
  local remaining = tx_remaining_ms(ARGV[2], tonumber(ARGV[3]))
  if not tx_open(remaining, tonumber(ARGV[3])) then return {'refused', 'expired'} end

  local credit = redis.call('GET', KEYS[1])
  local reason
  if not credit then
    reason = 'unknown_user'
  elseif tonumber(credit) < tonumber(ARGV[1]) then
    reason = 'insufficient_credit'
  end
  if reason then
    -- A refusal is final as well: a retried try must not succeed after the order gave up on it.
    tx_final_marker(KEYS[2], 'x:' .. reason, remaining)
    return {'refused', reason}
  end

  redis.call('DECRBY', KEYS[1], ARGV[1])
  if hold then hold_change(KEYS[3], ARGV[1]) end
  redis.call('SET', KEYS[2], ARGV[1])
  return {done}
end

-- ARGV: tx id, window in ms. Returns {done, credit given back by this call}.
local function credit_cancel(hold, done)
  local marker = redis.call('GET', KEYS[2])
  local held = tonumber(marker)
  if held then
    redis.call('INCRBY', KEYS[1], marker)
    if hold then hold_change(KEYS[3], -held) end
  end
  -- A refusal marker already makes the transaction final; keep its reason.
  if held or not marker then tx_final_marker(KEYS[2], 'x', tx_remaining_ms(ARGV[1], tonumber(ARGV[2]))) end
  return {done, held or 0}
end

-- ARGV: the tx id of each triple, then window in ms (triples of many transactions: a batch).
-- Returns {done, credit (2PC) or markers (saga) confirmed by this call}. 2PC spends what was held;
-- the saga's charge already spent it, so its marker only starts to expire.
local function credit_confirm(hold, done)
  local spend = hold and function(base, held) hold_change(KEYS[base + 3], -held) end
  return {done, tx_confirm_all(3, 2, spend)}
end
