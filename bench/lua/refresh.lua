-- Every request presents a refresh token never used before. The pool file seeds
-- each thread's queue (more tokens than connections); each good response hands
-- back the rotated token, which goes to the end of the queue. A token is never
-- sent twice, so no request is refused as a replay.
local queue, head, tail = {}, 1, 0

function init_tokens()
  local n = 0
  for line in io.lines(CONFIG.tokens) do
    n = n + 1
    if (n - 1) % nthreads + 1 == id and #line > 0 then
      tail = tail + 1
      queue[tail] = line
    end
  end
end

function request()
  local token = "pool-exhausted"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  return wrk.format(nil, nil, nil, CONFIG.body .. token)
end

function on_body(status, body)
  local token = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    tail = tail + 1
    queue[tail] = token
  end
end
