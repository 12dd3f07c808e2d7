-- catalog.lua: closed-loop maximum throughput of the Products API with wrk (wrk -s).
--
--   wrk -t1 -c64 -d15s --latency -H 'X-Cache-Bypass: 1' -s Deploy/bench/wrk/catalog.lua \
--       http://127.0.0.1:8080 -- route=styles ids=uniform max=1000011 json=out.json
--
-- Arguments after `--` (key=value, all optional):
--   route=product|styles|related|list|page   default styles. list = /products?page=P&count=C
--            (pages drawn like ids over 1..ceil(max/count)); page = product, styles, related for
--            one id, one after the other (a front end's product page).
--   ids=uniform|last10|zipf   default uniform. last10 = uniform over the last 10% of 1..max.
--   s=1.0        Zipf exponent.       max=1000011   ids are drawn from 1..max.
--   perm=20240601  Zipf rank -> id permutation seed (0 = identity). The same 4-round Feistel
--            network as products-load (Sources/LoadGenerator/Zipf.swift, RankPermutation), in
--            32-bit arithmetic, so both tools hit the same hot ids.
--   count=5      page size for route=list.     seed=1   math.random seed (+ thread number).
--   cache=1      read X-Cache-Status and per-status counts through wrk's response() hook (costs
--            wrk some CPU; off by default, when wrk counts statuses > 399 itself).
--   allow404=1   404 answers are not errors (ids missing from the data); implies the hook.
--   json=FILE    write the results as JSON (done() hook).     label=TEXT  copied into the JSON.
--   selftest=1   print the permutation's reference values and a Zipf frequency check, then run.
--
-- Errors reported: connect/read/write/timeout socket errors plus non-2xx answers (with cache=1:
-- exactly the non-2xx; without: wrk's own count of statuses > 399 — the API sends no 1xx/3xx).
-- wrk is closed loop: each connection sends its next request when the previous answer arrives,
-- so its latencies are NOT open-loop latencies; use it for the maximum rate only and
-- products-load for latency at a fixed rate.

local bit = require("bit")

local TWO32 = 4294967296

-- ---------------------------------------------------------------------------------------------
-- 32-bit unsigned arithmetic on LuaJIT numbers (doubles are exact up to 2^53; bit ops are int32)

local function u32(x)                       -- a bit-op result (int32) as unsigned
  if x < 0 then return x + TWO32 end
  return x
end

local function mul32(a, b)                  -- (a * b) mod 2^32, a and b in 0..2^32-1
  local alo = a % 65536
  local ahi = (a - alo) / 65536
  return ((ahi * b) % 65536 * 65536 + alo * b) % TWO32
end

local function xor32(a, b) return u32(bit.bxor(a, b)) end

local function lowbias32(x)                 -- Chris Wellons' integer hash
  x = xor32(x, bit.rshift(x, 16))
  x = mul32(x, 0x7feb352d)
  x = xor32(x, bit.rshift(x, 15))
  x = mul32(x, 0x846ca68b)
  x = xor32(x, bit.rshift(x, 16))
  return x
end

-- A bijection of 1..n (see RankPermutation in Zipf.swift).
local function permutation(n, seed)
  if seed == 0 then return function(rank) return rank end end
  local bits = 2
  while 2 ^ bits < n do bits = bits + 2 end
  local half = bits / 2
  local scale = 2 ^ half
  local mask = scale - 1
  local keys = {}
  for i = 0, 3 do keys[i + 1] = lowbias32((seed + mul32(0x9E3779B9, i + 1)) % TWO32) end
  local function encrypt(x)
    local left = math.floor(x / scale)
    local right = x % scale
    for i = 1, 4 do
      local f = u32(bit.band(lowbias32(xor32(right, keys[i])), mask))
      left, right = right, xor32(left, f)
    end
    return left * scale + right
  end
  return function(rank)
    local x = rank - 1
    repeat x = encrypt(x) until x < n
    return x + 1
  end
end

-- ---------------------------------------------------------------------------------------------
-- Zipf ranks 1..n by rejection-inversion (Hörmann & Derflinger 1996; ZipfSampler in Zipf.swift)

local function log1p(x)                     -- accurate near 0 (Lua 5.1 has no math.log1p)
  local u = 1 + x
  if u == 1 then return x end
  return math.log(u) * x / (u - 1)
end

local function expm1(x)
  local u = math.exp(x)
  if u == 1 then return x end
  local um1 = u - 1
  if um1 == -1 then return -1 end
  return um1 * x / math.log(u)
end

local function zipf(n, s)
  local function helper1(x)
    if math.abs(x) > 1e-8 then return log1p(x) / x end
    return 1 - x * (0.5 - x * (1 / 3 - 0.25 * x))
  end
  local function helper2(x)
    if math.abs(x) > 1e-8 then return expm1(x) / x end
    return 1 + x * 0.5 * (1 + x * (1 / 3) * (1 + 0.25 * x))
  end
  local function h(x) return math.exp(-s * math.log(x)) end
  local function hIntegral(x)
    local logX = math.log(x)
    return helper2((1 - s) * logX) * logX
  end
  local function hIntegralInverse(x)
    local t = x * (1 - s)
    if t < -1 then t = -1 end
    return math.exp(helper1(t) * x)
  end
  local hX1 = hIntegral(1.5) - 1
  local hN = hIntegral(n + 0.5)
  local sBound = 2 - hIntegralInverse(hIntegral(2.5) - h(2))
  return function()
    while true do
      local u = hN + math.random() * (hX1 - hN)
      local x = hIntegralInverse(u)
      local k = math.floor(x + 0.5)
      if k < 1 then k = 1 elseif k > n then k = n end
      if k - x <= sBound or u >= hIntegral(k + 0.5) - h(k) then return k end
    end
  end
end

-- ---------------------------------------------------------------------------------------------
-- wrk hooks

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

local function parse_args(args)
  local o = { route = "styles", ids = "uniform", s = "1.0", max = "1000011", perm = "20240601",
              count = "5", seed = "1", cache = "0", allow404 = "0", json = "", label = "",
              selftest = "0" }
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if not k or o[k] == nil then error("catalog.lua: unknown argument " .. a) end
    o[k] = v
  end
  return o
end

local draw, path_for, prefix, suffix, route, page_step, page_id

-- Exported to done() through thread:get.
statuses = {}
cache_counts = {}
options = {}

function init(args)
  local o = parse_args(args)
  options = o
  route = o.route
  local max = tonumber(o.max)
  local count = tonumber(o.count)
  math.randomseed(tonumber(o.seed) + (thread_number or 0) * 7919)

  local function sampler(n)
    if o.ids == "uniform" then
      return function() return math.random(1, n) end
    elseif o.ids == "last10" then
      local tenth = math.max(1, math.floor(n / 10))
      local lo = n - tenth + 1
      return function() return math.random(lo, n) end
    elseif o.ids == "zipf" then
      local z = zipf(n, tonumber(o.s))
      local p = permutation(n, tonumber(o.perm))
      return function() return p(z()) end
    end
    error("catalog.lua: ids must be uniform, last10 or zipf")
  end

  if route == "list" then
    local pages = math.ceil(max / count)
    local pick = sampler(pages)
    path_for = function() return "/products?page=" .. pick() .. "&count=" .. count end
  elseif route == "product" or route == "styles" or route == "related" or route == "page" then
    local pick = sampler(max)
    local tails = { product = "", styles = "/styles", related = "/related" }
    if route == "page" then
      local order = { "", "/styles", "/related" }
      page_step = 3
      path_for = function()
        if page_step == 3 then page_step = 0; page_id = pick() end
        page_step = page_step + 1
        return "/products/" .. page_id .. order[page_step]
      end
    else
      local tail = tails[route]
      path_for = function() return "/products/" .. pick() .. tail end
    end
  else
    error("catalog.lua: route must be product, styles, related, list or page")
  end

  -- The request text around the path, rendered once (wrk.format per request is slow).
  local base = wrk.path
  if base == "/" then base = "" end
  local marker = "\1PATH\1"
  local template = wrk.format("GET", marker)
  local at = template:find(marker, 1, true)
  prefix = template:sub(1, at - 1) .. base
  suffix = template:sub(at + #marker)

  if o.cache == "1" or o.allow404 == "1" then
    response = function(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
      local c = headers["X-Cache-Status"] or headers["x-cache-status"] or "absent"
      cache_counts[c] = (cache_counts[c] or 0) + 1
    end
  end

  if o.selftest == "1" and (thread_number or 1) == 1 then
    local p = permutation(1000011, 20240601)
    io.write("selftest perm(1000011, 20240601) ranks 1..5: ")
    for r = 1, 5 do io.write(p(r), " ") end
    io.write("rank 1000011: ", p(1000011), "\n")
    local q = permutation(10000, 42)
    io.write("selftest perm(10000, 42) ranks 1..5: ")
    for r = 1, 5 do io.write(q(r), " ") end
    io.write("\n")
    local z = zipf(1000011, 1.0)
    local hits, draws = 0, 200000
    for _ = 1, draws do if z() == 1 then hits = hits + 1 end end
    io.write(string.format("selftest zipf(1000011, 1.0) P(rank 1) = %.4f (exact 0.0695)\n", hits / draws))
  end
end

function request()
  return prefix .. path_for() .. suffix
end

-- ---------------------------------------------------------------------------------------------
-- Results

local function json_string(v)
  return '"' .. tostring(v):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function json_value(v)
  if type(v) == "table" then
    local parts = {}
    local keys = {}
    for k in pairs(v) do table.insert(keys, k) end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      table.insert(parts, json_string(k) .. ": " .. json_value(v[k]))
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  elseif type(v) == "string" then
    return json_string(v)
  elseif type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
    return string.format("%.6g", v)
  elseif type(v) == "boolean" then
    return tostring(v)
  end
  return "null"
end

function done(summary, latency, requests)
  local o = threads[1] and threads[1]:get("options") or {}
  local status_total, cache_total = {}, {}
  local hooked = o.cache == "1" or o.allow404 == "1"
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do status_total[tostring(k)] = (status_total[tostring(k)] or 0) + v end
    for k, v in pairs(t:get("cache_counts") or {}) do cache_total[k] = (cache_total[k] or 0) + v end
  end
  local e = summary.errors
  local non2xx = e.status
  if hooked then
    non2xx = 0
    for k, v in pairs(status_total) do
      local code = tonumber(k)
      if (code < 200 or code > 299) and not (code == 404 and o.allow404 == "1") then
        non2xx = non2xx + v
      end
    end
  end
  local socket = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  local result = {
    tool = "wrk",
    label = o.label,
    route = o.route, ids = o.ids, max_id = tonumber(o.max), allow_404 = o.allow404 == "1",
    zipf_s = (o.ids == "zipf") and tonumber(o.s) or nil,
    zipf_perm_seed = (o.ids == "zipf") and tonumber(o.perm) or nil,
    duration_s = seconds,
    requests = summary.requests,
    rps = summary.requests / seconds,
    ok_rps = (summary.requests - non2xx) / seconds,
    bytes = summary.bytes,
    latency_us = {
      p50 = latency:percentile(50), p90 = latency:percentile(90), p99 = latency:percentile(99),
      p999 = latency:percentile(99.9), max = latency.max, mean = latency.mean,
    },
    errors = {
      total = socket + non2xx,
      rate = (socket + non2xx) / math.max(1, summary.requests + socket),
      non2xx = non2xx, connect = e.connect, read = e.read, write = e.write, timeout = e.timeout,
    },
  }
  if hooked then
    result.status_counts = status_total
  end
  if o.cache == "1" then
    local with_header, hits = 0, 0
    for k, v in pairs(cache_total) do
      if k ~= "absent" then with_header = with_header + v end
      if k == "HIT" then hits = v end
    end
    result.cache = { counts = cache_total, hit_ratio = with_header > 0 and hits / with_header or nil }
  end
  io.write(string.format("catalog.lua: %s ids=%s: %.0f req/s, errors %d (non-2xx %d, socket %d)",
    tostring(o.route), tostring(o.ids), result.rps, result.errors.total, non2xx, socket))
  if result.cache and result.cache.hit_ratio then
    io.write(string.format(", cache HIT ratio %.1f%%", result.cache.hit_ratio * 100))
  end
  io.write("\n")
  if o.json and o.json ~= "" then
    local f = assert(io.open(o.json, "w"))
    f:write(json_value(result), "\n")
    f:close()
  end
end
