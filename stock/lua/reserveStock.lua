--[[
  Saga step: takes the stock of one transaction's items on this shard, all of them or none.
  Idempotent: a replay answers as the first call did. Final: once the transaction was released
  (or refused) here, it never takes stock again.
  KEYS[2i-1] item hash                item:{id}
  KEYS[2i]   the item's transaction marker   item:{id}:tx:<tx>
  ARGV[i]    quantity of item i (i = 1..n), ARGV[n+1] marker lifetime in seconds
  Returns {'reserved'} | {'refused', reason} with reason 'insufficient_stock' | 'unknown_item' | 'compensated'
  Markers hold the quantity taken while held; once final without holding stock, 'x' (compensated)
  or 'x:<reason>' (refused), so a replay gives the same answer.
]]
local n = #KEYS / 2
local ttl = ARGV[n + 1]

-- A transaction's markers on this shard are always written together, so the first one tells.
local seen = redis.call('GET', KEYS[2])
if seen then
  if tonumber(seen) then return {'reserved'} end
  return {'refused', string.sub(seen, 3) ~= '' and string.sub(seen, 3) or 'compensated'}
end

local reason
for i = 1, n do
  local stock = redis.call('HGET', KEYS[2 * i - 1], 'stock')
  if not stock then reason = 'unknown_item' break end
  if tonumber(stock) < tonumber(ARGV[i]) then reason = 'insufficient_stock' break end
end
if reason then
  -- A refusal is final as well: a retried step must not succeed after the order gave up on it.
  for i = 1, n do redis.call('SET', KEYS[2 * i], 'x:' .. reason, 'EX', ttl) end
  return {'refused', reason}
end

for i = 1, n do
  redis.call('HINCRBY', KEYS[2 * i - 1], 'stock', '-' .. ARGV[i])
  redis.call('SET', KEYS[2 * i], ARGV[i], 'EX', ttl)
end
return {'reserved'}
