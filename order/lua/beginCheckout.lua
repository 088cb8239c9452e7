--[[
  The entry to every checkout: the order's side of the engine's tx_begin_subject (see
  engine:txRecord.lua, which keeps the transaction record in the order hash).
  An order may start a checkout if it exists, is not paid, and has items but no more lines than a
  checkout takes (orders built before that limit existed may have more); the transaction's
  payload is the order's user, total and items, snapshotted here.
  KEYS[1] order hash                  order:{id}
  KEYS[2] open checkouts              checkouts:pending (the partition's index, see order/keys.ts; score = lease end)
  KEYS[3] order items                 order:{id}:items
  ARGV[1] mode: 'start' | 'watch' | 'resume' (see tx_begin) | 'check' (only says whether an order
          could start one, and writes nothing)
  ARGV[2] transaction id to create in 'start' mode, ARGV[3] its protocol
  ARGV[4] lease length in ms, ARGV[5] lease owner, ARGV[6] order id, ARGV[7] the most lines a
          checkout takes
  Returns tx_begin's replies with payload (user, total, item1, 'qty:price', item2, ...), and:
    {'refused', 'not_found'}                  any mode: the order does not exist
    {'refused', 'paid' | 'empty' | 'too_many_lines'}   start mode
    {'ok'} | {'paid'} | {'empty'} | {'too_many_lines'} | {'not_found'}   check mode
]]
--@include "engine:txRecord.lua"
local order = redis.call('HMGET', KEYS[1], 'user_id', 'paid', 'total_cost', unpack(TX_BEGIN_FIELDS))
local function refusal()
  if order[2] == '1' then return 'paid' end
  local lines = redis.call('HLEN', KEYS[3])
  if lines == 0 then return 'empty' end
  if lines > tonumber(ARGV[7]) then return 'too_many_lines' end
  return nil
end
local function payload()
  local reply = {order[1], order[3]}
  local items = redis.call('HGETALL', KEYS[3])
  for i = 1, #items do reply[#reply + 1] = items[i] end
  return reply
end
local record = {unpack(order, 4, 3 + #TX_BEGIN_FIELDS)}
return tx_begin_subject(order[1] ~= false, record, refusal, payload)
