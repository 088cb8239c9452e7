--[[
  Claims an Idempotency-Key for one request, on the key's own shard, before the guarded change
  runs on the entity's: a key is one request's, whatever entity it names, so the same key sent
  with another route or other parameters (another entity among them) is refused. A claim left by
  a request that died before its change ran is harmless: the same request sent again goes on.
  KEYS[1] the claim                   idem:{<key digest>}
  ARGV[1] the request's fingerprint, ARGV[2] lifetime in ms
  Returns {'ok'} (claimed now or before by the same request) | {'idempotency_conflict'}
]]
local claimed = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'GET', 'PX', ARGV[2])
if claimed and claimed ~= ARGV[1] then return {'idempotency_conflict'} end
return {'ok'}
