--[[
  Adds units of an item to an order at the item's price, captured now (prices never change).
  KEYS[1] order hash                  order:{id}
  KEYS[2] order items                 order:{id}:items   field item id -> '<quantity>:<unit price>'
  ARGV[1] item id, ARGV[2] quantity (>= 1), ARGV[3] unit price, ARGV[4] largest storable value,
  ARGV[5] the most lines an order may hold (a new item is a new line)
  Returns {'ok', total cost} | {'not_found'} | {'paid'} | {'busy'} | {'overflow'} | {'too_many_lines'}
]]
--@include "engine:txOpen.lua"
local order = redis.call('HMGET', KEYS[1], 'user_id', 'paid', 'total_cost')
if not order[1] then return {'not_found'} end
if order[2] == '1' then return {'paid'} end
if tx_is_open(KEYS[1]) then return {'busy'} end

local max = tonumber(ARGV[4])
local quantity, price = tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then
  local q = string.match(held, '^(%d+):')
  quantity = quantity + tonumber(q)
elseif redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then
  return {'too_many_lines'}
end
-- Exact in doubles: every operand is at most 2^53-1 and each comparison is against a difference.
if quantity > max then return {'overflow'} end
local cost = tonumber(ARGV[2]) * price
if cost > max - tonumber(order[3]) then return {'overflow'} end

redis.call('HSET', KEYS[2], ARGV[1], string.format('%d:%s', quantity, ARGV[3]))
return {'ok', redis.call('HINCRBY', KEYS[1], 'total_cost', string.format('%d', cost))}
