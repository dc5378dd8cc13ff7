-- Open the throttle to about CONFIG.rate requests/s over CONFIG.connections
-- connections: each connection waits an exponentially distributed pause before its
-- next request (so arrivals are Poisson-like, not lock-step), and once a second the
-- mean pause is corrected from the rate achieved in the second before.
local mean_pause, second, second_count, seconds_seen

function init_pace()
  mean_pause = CONFIG.connections / CONFIG.rate
  second, second_count, seconds_seen = os.time(), 0, 0
end

function delay()
  return -math.log(1 - math.random()) * mean_pause * 1000
end

function pace()
  second_count = second_count + 1
  local now = os.time()
  if now == second then return end
  seconds_seen = seconds_seen + 1
  if seconds_seen > 1 then -- the first second was partial
    local achieved = second_count / (now - second)
    -- A connection's cycle is its latency plus its pause: C / rate = L + pause.
    local latency = math.max(0, CONFIG.connections / achieved - mean_pause)
    local wanted = math.max(0, CONFIG.connections / CONFIG.rate - latency)
    mean_pause = 0.5 * mean_pause + 0.5 * wanted
  end
  second, second_count = now, 0
end
