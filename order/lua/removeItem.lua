--[[
  Removes units of an item from an order (all of them when no quantity is given).
  KEYS[1] order hash                  order:{id}
  KEYS[2] order items                 order:{id}:items
  ARGV[1] item id, ARGV[2] quantity (>= 1) or '' for the whole line
  Returns {'ok', total cost} | {'not_found'} | {'paid'} | {'busy'} | {'not_in_order'} | {'too_many', quantity held}
]]
--@include "engine:txOpen.lua"
local order = redis.call('HMGET', KEYS[1], 'user_id', 'paid')
if not order[1] then return {'not_found'} end
if order[2] == '1' then return {'paid'} end
if tx_is_open(KEYS[1]) then return {'busy'} end

local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held then return {'not_in_order'} end
local q, price = string.match(held, '^(%d+):(%d+)$')
q, price = tonumber(q), tonumber(price)
local removing = q
if ARGV[2] ~= '' then removing = tonumber(ARGV[2]) end
if removing > q then return {'too_many', q} end

if removing == q then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], string.format('%d:%d', q - removing, price))
end
return {'ok', redis.call('HINCRBY', KEYS[1], 'total_cost', string.format('%d', -(removing * price)))}
