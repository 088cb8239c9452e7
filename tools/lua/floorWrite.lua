--[[
  The floor's write (tools/floor.ts): one atomic change of as many keys as a checkout's scripts
  write together, and nothing else (no reads, no checks), so its cost is what any checkout's
  writes cost at the least.
  KEYS[1..n]  hashes, each given a field `n` incremented by ARGV[1]
  ARGV[1]     the increment
  Returns n, the number of keys written
]]
for i = 1, #KEYS do redis.call('HINCRBY', KEYS[i], 'n', ARGV[1]) end
return #KEYS
