--[[
  The entry to every checkout: starts the order's transaction, hands an abandoned one to the caller,
  or tells the caller who is driving. The transaction record lives in the order hash (fields tx,
  tx_state, tx_reason, tx_lease, tx_owner), so it is written before any participant is called.
  KEYS[1] order hash                  order:{id}
  KEYS[2] order items                 order:{id}:items
  KEYS[3] transactions to recover     checkouts:pending (this shard's, no hash tag; score = lease end)
  ARGV[1] mode: 'start' (a checkout request), 'watch' (waiting on a running transaction),
          'resume' (the recovery sweep)
  ARGV[2] transaction id to create in 'start' mode
  ARGV[3] lease length in ms, ARGV[4] lease owner, ARGV[5] order id
  Returns
    {'drive', tx, state, reason, user, total, item1, 'qty:price', item2, ...}
        the caller holds the lease and must drive tx (state 'trying' or 'aborting')
    {'busy', tx}                            another caller holds a live lease on tx, still trying
    {'paid'} | {'empty'} | {'not_found'}    start mode: nothing to do
    {'done', paid, last tx, last outcome}   watch/resume mode: no transaction is running
]]
local order = redis.call('HMGET', KEYS[1], 'user_id', 'paid', 'total_cost', 'tx', 'tx_state', 'tx_reason', 'tx_lease')
if not order[1] then
  redis.call('ZREM', KEYS[3], ARGV[5])
  return {'not_found'}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_end = now + tonumber(ARGV[3])

local function drive(tx, state, reason)
  redis.call('HSET', KEYS[1], 'tx_lease', lease_end, 'tx_owner', ARGV[4])
  redis.call('ZADD', KEYS[3], lease_end, ARGV[5])
  local reply = {'drive', tx, state, reason, order[1], order[3]}
  local items = redis.call('HGETALL', KEYS[2])
  for i = 1, #items do reply[#reply + 1] = items[i] end
  return reply
end

local tx = order[4]
if tx then
  -- A decided abort may be compensated by anyone at any time (compensations are idempotent and
  -- final); only a transaction still trying is exclusive to its lease holder.
  if order[5] == 'trying' and tonumber(order[7]) >= now then return {'busy', tx} end
  return drive(tx, order[5], order[6] or '')
end

if ARGV[1] ~= 'start' then
  redis.call('ZREM', KEYS[3], ARGV[5])
  local last = redis.call('HMGET', KEYS[1], 'last_tx', 'last_outcome')
  return {'done', order[2], last[1] or '', last[2] or ''}
end
if order[2] == '1' then return {'paid'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'empty'} end

redis.call('HSET', KEYS[1], 'tx', ARGV[2], 'tx_state', 'trying', 'tx_reason', '')
return drive(ARGV[2], 'trying', '')
