-- wrk script: every request signs in as a random seeded user (database session "bench-<id>"),
-- so the rate limiter and the session lookup see many users, as in production.
local users = tonumber(os.getenv("BENCH_USERS") or "1000")

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local cookie = "__Secure-next-auth.session-token=bench-" .. math.random(1, users)
  return wrk.format("GET", nil, { ["Cookie"] = cookie })
end
