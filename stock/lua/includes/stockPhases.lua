--[[
  The three phases of a transaction on one stock shard, shared by the saga and 2PC scripts; `hold`
  is true for 2PC, where taken stock is also counted in the item's `held` field until the commit
  spends it (or the abort gives it back). Markers follow the protocol in orchestrator/participant.ts
  and engine:txMarker.lua; a transaction's markers on this shard are always written together.
  Layout of KEYS for every phase: pairs (item hash item:{id}, its marker item:{id}:tx:<tx>).
]]
--@include "engine:txMarker.lua"

-- ARGV: quantity per item (1..n), then tx id, then window in ms.
-- Returns {'done'} | {'refused', 'insufficient_stock' | 'unknown_item' | 'compensated' | 'expired' | 'other_protocol'}
local function stock_try(hold)
  local n = #KEYS / 2
  if n == 0 then return {'done'} end
  local protocol = tx_protocol(hold)
  local tx, bound = ARGV[n + 1], tonumber(ARGV[n + 2])
  -- The first item's marker is written now (a transaction's markers here are written together):
  -- kept when the stock is taken, made final when refused.
  local seen = tx_claim(KEYS[2], protocol, ARGV[1])
  if seen == false then return {'refused', 'other_protocol'} end
  if seen then return tx_replay(seen) end
  local remaining = tx_remaining_ms(tx, bound)
  if not tx_open(remaining, bound) then
    redis.call('DEL', KEYS[2])
    return {'refused', 'expired'}
  end

  local reason
  for i = 1, n do
    local stock = redis.call('HGET', KEYS[2 * i - 1], 'stock')
    if not stock then reason = 'unknown_item' break end
    if tonumber(stock) < tonumber(ARGV[i]) then reason = 'insufficient_stock' break end
  end
  if reason then
    -- A refusal is final as well: a retried try must not succeed after the order gave up on it.
    for i = 1, n do tx_final_marker(KEYS[2 * i], protocol, 'x:' .. reason, remaining, bound) end
    return {'refused', reason}
  end

  for i = 1, n do
    redis.call('HINCRBY', KEYS[2 * i - 1], 'stock', '-' .. ARGV[i])
    if hold then redis.call('HINCRBY', KEYS[2 * i - 1], 'held', ARGV[i]) end
    if i > 1 then redis.call('SET', KEYS[2 * i], protocol .. ':' .. ARGV[i]) end
  end
  return {'done'}
end

-- ARGV: tx id, window in ms.
-- Returns {'done', units given back by this call} | {'refused', 'confirmed' | 'other_protocol'}
-- (final the other way, or not this protocol's: nothing changed).
local function stock_cancel(hold)
  local protocol = tx_protocol(hold)
  local n = #KEYS / 2
  local states = {}
  for i = 1, n do
    states[i] = tx_state(redis.call('GET', KEYS[2 * i]), protocol)
    local settled = tx_settled(states[i])
    if settled then return {'refused', settled} end
  end
  local bound = tonumber(ARGV[2])
  local remaining = tx_remaining_ms(ARGV[1], bound)
  local returned = 0
  for i = 1, n do
    local held = tonumber(states[i])
    if held then
      redis.call('HINCRBY', KEYS[2 * i - 1], 'stock', held)
      if hold then redis.call('HINCRBY', KEYS[2 * i - 1], 'held', -held) end
      returned = returned + held
    end
    -- A refusal or a cancel already makes the transaction final here; keep what it says.
    if held or not states[i] then tx_final_marker(KEYS[2 * i], protocol, 'x', remaining, bound) end
  end
  return {'done', returned}
end

-- ARGV: the tx id of each pair, then window in ms (pairs of many transactions: a batch).
-- Returns {'done', units confirmed by this call}. 2PC spends what was held; the saga's step already
-- spent it. Either way the confirm is final: a later cancel changes nothing.
local function stock_confirm(hold)
  local spend = hold and function(base, held) redis.call('HINCRBY', KEYS[base + 1], 'held', -held) end
  return {'done', tx_confirm_all(tx_protocol(hold), 2, 2, spend)}
end
