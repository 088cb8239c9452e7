-- wrk script: checkouts of fresh orders, thread t of 2 taking OFFSET + t, t + 2, ...
local count = 0
function setup(thread) thread:set("t", count); count = count + 1 end
function init() n = 0; off = tonumber(os.getenv("OFFSET")) or 0 end
function request()
  local id = off + t + n * 2
  n = n + 1
  return wrk.format("POST", "/orders/checkout/" .. id)
end
