--[[
  The entry to every transfer: the transfer's side of the engine's tx_begin_subject (engine:txRecord.lua
  keeps the transaction record in the transfer's hash). A transfer may start if it exists and has
  not been made; its payload is its accounts and amount.
  KEYS[1] the transfer's hash     transfer:{id}   (from, to, amount, made)
  KEYS[2] open transfers          transfers:open  (this partition's index, by lease end)
  ARGV[1] mode: 'start' | 'watch' | 'resume' | 'retry' (see tx_begin) | 'check' (writes nothing)
  ARGV[2] transaction id to create in 'start' mode, ARGV[3] its protocol, ARGV[4] lease ms,
  ARGV[5] lease owner, ARGV[6] transfer id
  Returns tx_begin's replies with payload (from, to, amount), and
    {'refused', 'not_found' | 'made'}   start mode      {'ok'} | {'not_found'} | {'made'}   check mode
]]
--@include "engine:txRecord.lua"
local t = redis.call('HMGET', KEYS[1], 'from', 'to', 'amount', 'made', unpack(TX_BEGIN_FIELDS))
local function refusal()
  if t[4] == '1' then return 'made' end
  return nil
end
local record = {unpack(t, 5, 4 + #TX_BEGIN_FIELDS)}
return tx_begin_subject(t[1] ~= false, record, refusal, function() return {t[1], t[2], t[3]} end)
