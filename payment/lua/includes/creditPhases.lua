--[[
  The three phases of a transaction on a user's credit, shared by the saga and 2PC scripts; `hold`
  is true for 2PC, where taken credit is also counted in the user's held key until the commit
  spends it (or the abort gives it back). Markers follow the protocol in orchestrator/participant.ts
  and engine:txMarker.lua. A phase for an amount of 0 takes nothing, so it writes nothing.
  Layout of KEYS for every phase: triples (credit user:{id}, marker user:{id}:tx:<tx>,
  held credit user:{id}:held).
]]
--@include "engine:txMarker.lua"

local function hold_change(key, delta)
  if redis.call('INCRBY', key, delta) == 0 then redis.call('DEL', key) end
end

-- ARGV: amount (>= 0), tx id, window in ms.
-- Returns {'done'} | {'refused', 'insufficient_credit' | 'unknown_user' | 'compensated' | 'expired' | 'other_protocol'}
local function credit_try(hold)
  local protocol = tx_protocol(hold)
  local amount, bound = tonumber(ARGV[1]), tonumber(ARGV[3])
  -- The marker is written now when there is something to take: kept when it is taken, made final
  -- when refused.
  local seen
  if amount > 0 then seen = tx_claim(KEYS[2], protocol, amount) else seen = tx_state(redis.call('GET', KEYS[2]), protocol) end
  if seen == false then return {'refused', 'other_protocol'} end
  if seen then return tx_replay(seen) end
  local remaining = tx_remaining_ms(ARGV[2], bound)
  if not tx_open(remaining, bound) then
    if amount > 0 then redis.call('DEL', KEYS[2]) end
    return {'refused', 'expired'}
  end

  local credit = redis.call('GET', KEYS[1])
  local reason
  if not credit then
    reason = 'unknown_user'
  elseif tonumber(credit) < amount then
    reason = 'insufficient_credit'
  end
  if reason then
    -- A refusal is final as well: a retried try must not succeed after the order gave up on it.
    if amount > 0 then tx_final_marker(KEYS[2], protocol, 'x:' .. reason, remaining, bound) end
    return {'refused', reason}
  end
  if amount == 0 then return {'done'} end

  redis.call('DECRBY', KEYS[1], amount)
  if hold then hold_change(KEYS[3], amount) end
  return {'done'}
end

-- ARGV: tx id, window in ms, the transaction's amount.
-- Returns {'done', credit given back by this call} | {'refused', 'confirmed' | 'other_protocol'}
-- (final the other way, or not this protocol's: nothing changed).
local function credit_cancel(hold)
  local function give_back(held)
    redis.call('INCRBY', KEYS[1], held)
    if hold then hold_change(KEYS[3], -held) end
  end
  -- A try of nothing takes nothing, so its cancel need not stop it.
  return tx_cancel_one(KEYS[2], tx_protocol(hold), ARGV[1], tonumber(ARGV[2]), give_back, tonumber(ARGV[3]) > 0)
end

-- ARGV: the tx id of each triple, then window in ms (triples of many transactions: a batch).
-- Returns {'done', credit confirmed by this call}. 2PC spends what was held; the saga's charge
-- already spent it. Either way the confirm is final: a later cancel changes nothing.
local function credit_confirm(hold)
  local spend = hold and function(base, held) hold_change(KEYS[base + 3], -held) end
  return {'done', tx_confirm_all(tx_protocol(hold), 3, 2, spend)}
end
