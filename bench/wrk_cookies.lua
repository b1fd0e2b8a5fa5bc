-- wrk script: each request carries the next of many users' NextAuth session cookies (read from
-- the file given after `--`), so the session lookup and the per-user limiter see many users.
-- done() prints one line `BENCH_JSON {...}` for bench/run.py.
local cookies = {}
local next_index = 1
local thread_count = 0

function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  if args[1] then
    for line in io.lines(args[1]) do
      if #line > 0 then
        cookies[#cookies + 1] = "__Secure-next-auth.session-token=" .. line
      end
    end
  end
  if #cookies > 0 then
    -- Threads start far apart in the list, so no two walk the same users in step.
    next_index = (thread_number or 0) * math.floor(#cookies / 7 + 1) % #cookies + 1
  end
end

function request()
  if #cookies == 0 then
    return wrk.format("GET")
  end
  local cookie = cookies[next_index]
  next_index = next_index % #cookies + 1
  return wrk.format("GET", nil, { ["Cookie"] = cookie })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
