--[[
  Deletes an order that is neither paid nor being checked out.
  KEYS[1] order hash                  order:{id}
  KEYS[2] order items                 order:{id}:items
  Returns {'ok'} | {'not_found'} | {'paid'} | {'busy'}
]]
--@include "engine:txOpen.lua"
local order = redis.call('HMGET', KEYS[1], 'user_id', 'paid')
if not order[1] then return {'not_found'} end
if order[2] == '1' then return {'paid'} end
if tx_is_open(KEYS[1]) then return {'busy'} end
redis.call('DEL', KEYS[1], KEYS[2])
return {'ok'}
