-- About CONFIG.rate requests/s in all, as an open schedule: arrival times are drawn
-- ahead (exponential gaps, so a Poisson stream), and a connection that is ready to
-- send takes the next arrival and waits for it. A slow answer does not slow the
-- schedule; an overdue arrival is sent at once on the next free connection.
-- wrk measures each latency from the moment the request is written.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local next_arrival, gap

function init_pace()
  gap = nthreads / CONFIG.rate -- each wrk thread keeps its share of the rate
  next_arrival = now()
end

function delay()
  local slot = next_arrival
  next_arrival = next_arrival - math.log(1 - math.random()) * gap
  return math.max(0, (slot - now()) * 1000)
end
