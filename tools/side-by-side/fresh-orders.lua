-- wrk script: checkouts of fresh orders, thread t of 2 taking OFFSET + t, t + 2, ...; with KEYED=1
-- each carries a new Idempotency-Key (checkout is idempotent by order id, so it is only checked).
local count = 0
function setup(thread) thread:set("t", count); count = count + 1 end
function init() n = 0; off = tonumber(os.getenv("OFFSET")) or 0; keyed = os.getenv("KEYED") == "1" end
function request()
  local id = off + t + n * 2
  n = n + 1
  if keyed then return wrk.format("POST", "/orders/checkout/" .. id, { ["Idempotency-Key"] = "wrk-" .. off .. "-" .. id }) end
  return wrk.format("POST", "/orders/checkout/" .. id)
end
