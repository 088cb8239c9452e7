--[[
  An account's three phases, shared by the saga and 2PC scripts: a transaction's part is one
  account and a signed amount (negative: a debit, positive: a credit). `hold` is true for 2PC.
    saga  step: the balance changes at once    compensate: it changes back    forget: nothing
    2pc   prepare: a debit leaves the balance and is counted in `held`; a credit waits in the
          marker    abort: the debit comes back    commit: the debit is spent, the credit lands
  Under the saga a credit can be spent before a compensation takes it back: the balance may go
  below zero. 2PC never shows a credit before the commit.
  KEYS[1] the account's hash           account:{id}   (balance, held)
  KEYS[2] the account's marker of tx   account:{id}:tx:<tx>
]]
--@include "engine:txMarker.lua"

-- ARGV[1] signed amount, ARGV[2] tx id, ARGV[3] window ms.
-- Returns {'done'} | {'refused', 'insufficient_funds' | 'unknown_account' | 'compensated' | 'expired' | 'other_protocol'}
local function account_try(hold)
  local protocol = tx_protocol(hold)
  local delta, bound = tonumber(ARGV[1]), tonumber(ARGV[3])
  -- The marker is written now: kept when the balance changes, made final when refused.
  local seen = tx_claim(KEYS[2], protocol, delta)
  if seen == false then return {'refused', 'other_protocol'} end
  if seen then return tx_replay(seen) end
  local remaining = tx_remaining_ms(ARGV[2], bound)
  if not tx_open(remaining, bound) then
    redis.call('DEL', KEYS[2])
    return {'refused', 'expired'}
  end
  local balance = tonumber(redis.call('HGET', KEYS[1], 'balance'))
  local reason
  if not balance then reason = 'unknown_account' elseif balance + delta < 0 then reason = 'insufficient_funds' end
  if reason then
    tx_final_marker(KEYS[2], protocol, 'x:' .. reason, remaining, bound)
    return {'refused', reason}
  end
  if delta < 0 or not hold then redis.call('HINCRBY', KEYS[1], 'balance', delta) end
  if hold and delta < 0 then redis.call('HINCRBY', KEYS[1], 'held', -delta) end
  return {'done'}
end

-- ARGV[1] tx id, ARGV[2] window ms.
-- Returns {'done', the signed amount this call gave back} | {'refused', 'confirmed' | 'other_protocol'}
-- (The amount is the signed one the try took.)
local function account_cancel(hold)
  local function give_back(delta)
    if delta < 0 or not hold then redis.call('HINCRBY', KEYS[1], 'balance', -delta) end
    if hold and delta < 0 then redis.call('HINCRBY', KEYS[1], 'held', delta) end
  end
  return tx_cancel_one(KEYS[2], tx_protocol(hold), ARGV[1], tonumber(ARGV[2]), give_back, true)
end

-- KEYS: pairs (account, marker) of many transactions; ARGV[i] the tx of pair i, then window ms.
-- Returns {'done', the amounts confirmed, summed}
local function account_confirm(hold)
  local spend = hold and function(base, delta)
    if delta < 0 then redis.call('HINCRBY', KEYS[base + 1], 'held', delta) else redis.call('HINCRBY', KEYS[base + 1], 'balance', delta) end
  end
  return {'done', tx_confirm_all(tx_protocol(hold), 2, 2, spend)}
end
