-- wrk script: each request is a GET of the next of many paths (read from the file given after
-- `--`), with the Authorization header given after it: a platform backend's reads of many
-- integrations' credentials. done() prints one line `BENCH_JSON {...}` for bench/run.py.
local paths = {}
local authorization = nil
local next_index = 1
local thread_count = 0

function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  authorization = args[2]
  -- Threads start far apart in the list, so no two walk the same integrations in step.
  next_index = (thread_number or 0) * math.floor(#paths / 7 + 1) % #paths + 1
end

function request()
  local path = paths[next_index]
  next_index = next_index % #paths + 1
  return wrk.format("GET", path, { ["Authorization"] = authorization })
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
