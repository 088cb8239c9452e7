--[[
  The shard's clock, the one every lease, window and index score of the engine is read by.
  Returns ms since the epoch.
]]
local function tx_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
