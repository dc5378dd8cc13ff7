-- Shared by every load script (bench/load.py prepends a CONFIG table).
-- Every response is checked: a status outside 2xx, or a body in which one of the
-- CONFIG.expect Lua patterns does not occur, counts as an error, so a fast wrong
-- answer never counts as a success.
wrk.method = CONFIG.method
wrk.body = CONFIG.body
for name, value in pairs(CONFIG.headers) do
  wrk.headers[name] = value
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  thread:set("nthreads", CONFIG.threads)
  table.insert(threads, thread)
end

function init(args)
  ok, bad_status, bad_body = 0, 0, 0
  math.randomseed(os.time() * 1000 + id)
  if init_tokens then init_tokens() end
  if init_pace then init_pace() end
end

local function expected(body)
  for _, pattern in ipairs(CONFIG.expect) do
    if not string.find(body, pattern) then return false end
  end
  return true
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
  elseif not expected(body) then
    bad_body = bad_body + 1
  else
    ok = ok + 1
  end
  if on_body then on_body(status, body) end
end

function done(summary, latency, requests)
  local good, status_errors, body_errors = 0, 0, 0
  for _, thread in ipairs(threads) do
    good = good + thread:get("ok")
    status_errors = status_errors + thread:get("bad_status")
    body_errors = body_errors + thread:get("bad_body")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"ok":%d,"bad_status":%d,"bad_body":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, good, status_errors, body_errors,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
