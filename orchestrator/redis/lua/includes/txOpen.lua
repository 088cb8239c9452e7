--[[
  Whether a subject's record (its hash: includes/txRecord.lua) has a transaction open. A subject's
  own scripts ask this before changing what a running transaction took its snapshot of (e.g. an
  order's items), and answer 'busy' instead; they never read the engine's fields themselves.
]]
local function tx_is_open(record)
  return redis.call('HGET', record, 'tx') ~= false
end
