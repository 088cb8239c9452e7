-- wrk script: add_funds of 1 to random users 0..9999; with KEYED=1 each request carries a new
-- Idempotency-Key (thread, counter and a random part), so each is a first request, never a replay.
local count = 0
function setup(thread) thread:set("t", count); count = count + 1 end
function init()
  n = 0
  keyed = os.getenv("KEYED") == "1"
  math.randomseed(os.time() + t)
  salt = tostring(math.random(1, 2^30))
end
function request()
  n = n + 1
  local path = "/payment/add_funds/" .. math.random(0, 9999) .. "/1"
  if keyed then return wrk.format("POST", path, { ["Idempotency-Key"] = "wrk-" .. salt .. "-" .. t .. "-" .. n }) end
  return wrk.format("POST", path)
end
