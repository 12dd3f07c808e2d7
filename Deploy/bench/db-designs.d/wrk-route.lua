-- wrk script: one route, ids uniform over 1..MAXID, microcache bypassed.
--   ROUTE=styles|product|related|list MAXID=1000011 wrk -t2 -c32 -d20s --latency -s wrk-route.lua URL
-- Every request is a fresh random id (per-thread generator, seeded differently). Non-2xx
-- responses: wrk prints "Non-2xx or 3xx responses: N" (no response() hook here: defining one
-- makes wrk call into Lua for every response, which slows the load generator on this
-- shared 2-core box).
local route = os.getenv("ROUTE") or "styles"
local maxid = tonumber(os.getenv("MAXID") or "1000011")
local pages = math.floor((maxid + 4) / 5)
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
  wrk.headers["X-Cache-Bypass"] = "1"
end

function request()
  local path
  if route == "list" then
    path = "/products?page=" .. math.random(1, pages) .. "&count=5"
  elseif route == "product" then
    path = "/products/" .. math.random(1, maxid)
  else
    path = "/products/" .. math.random(1, maxid) .. "/" .. route
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT route=%s requests=%d seconds=%.2f rps=%.1f socket_errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    route, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
