#!/usr/bin/env bash
# Compare gunicorn worker models on GET /api/integrations/status with wrk, on PostgreSQL and
# Redis, signed in through database sessions. Each model runs in turn, several rounds, so a
# busy neighbour on the machine hurts all of them alike.
#
#   deploy/bench/worker-models.sh                 # defaults below
#   ROUNDS=3 DURATION=20 CONNECTIONS=32 deploy/bench/worker-models.sh "sync:5:1" "gthread:2:8"
#   RTT_MS=1 deploy/bench/worker-models.sh        # PostgreSQL and Redis 1 ms away, as on a LAN
#
# A model is worker_class:workers:threads. Needs psql, wrk and the venv; touches only a
# schema of its own (dropped at exit) and Redis keys under a prefix of its own.
set -euo pipefail
cd "$(dirname "$0")/../.."

DATABASE=${BENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}
REDIS=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}
PORT=${BENCH_PORT:-18080}
USERS=${BENCH_USERS:-1000}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-32}
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=("sync:2:1" "sync:5:1" "gthread:2:4" "gthread:2:8" "gthread:3:4")

SCHEMA="bench_$$"
WORK=$(mktemp -d)
GUNICORN_PID=""
PROXY_PIDS=()
RTT_MS=${RTT_MS:-0}
sql() { PGOPTIONS=--client-min-messages=warning psql -q "$DATABASE" -c "$1"; }
cleanup() {
  for pid in $GUNICORN_PID "${PROXY_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
  done
  sql "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export APP_ENV=production LOG_LEVEL=INFO TRUSTED_PROXY_COUNT=0
export PUBLIC_BASE_URL=https://integrations.example.com
export NEXTAUTH_SECRET="bench-secret-0123456789abcdef0123456789"
export TOKEN_ENCRYPTION_KEYS
TOKEN_ENCRYPTION_KEYS=$(.venv/bin/python -c \
  "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")
export DATABASE_URL="$DATABASE?options=-csearch_path%3D$SCHEMA"
export RATELIMIT_STORAGE_URI="$REDIS"

sql "CREATE SCHEMA $SCHEMA"
.venv/bin/flask --app wsgi db upgrade >/dev/null 2>&1
.venv/bin/flask --app wsgi seed-demo --user-id 1 --users "$USERS"
sql "SET search_path TO $SCHEMA;
  INSERT INTO sessions (\"userId\", expires, \"sessionToken\")
  SELECT id, now() + interval '1 day', 'bench-' || id FROM users"

# With RTT_MS, the app reaches PostgreSQL and Redis through a proxy adding that round trip.
address() {  # the host:port of a URL
  .venv/bin/python -c \
    'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).netloc.rsplit("@", 1)[-1])' "$1"
}
proxy() {  # URL LISTEN_PORT: start a proxy to the URL's server; APP_URL is the URL through it
  local target
  target=$(address "$1")
  .venv/bin/python deploy/bench/latency_proxy.py "$2" "$target" "$RTT_MS" >/dev/null 2>&1 &
  PROXY_PIDS+=($!)
  APP_URL="${1/$target/127.0.0.1:$2}"
}
if [ "$RTT_MS" != 0 ]; then
  proxy "$DATABASE_URL" $((PORT + 1)) && DATABASE_URL=$APP_URL
  proxy "$REDIS" $((PORT + 2)) && RATELIMIT_STORAGE_URI=$APP_URL
  sleep 1
fi

run() {
  local model=$1 round=$2 class workers threads
  IFS=: read -r class workers threads <<<"$model"
  # A fresh prefix per run: no run inherits another's counts, and nobody is refused.
  RATELIMIT_KEY_PREFIX="bench-$$-$round-$class-$workers-$threads" \
  GUNICORN_BIND="127.0.0.1:$PORT" GUNICORN_WORKER_CLASS="$class" WEB_CONCURRENCY="$workers" \
  GUNICORN_THREADS="$threads" PROMETHEUS_MULTIPROC_DIR="$WORK/metrics" \
    .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app >"$WORK/app.log" 2>"$WORK/gunicorn.err" &
  GUNICORN_PID=$!
  until curl -fs "http://127.0.0.1:$PORT/livez" >/dev/null; do
    kill -0 "$GUNICORN_PID" || { cat "$WORK/gunicorn.err"; exit 1; }
    sleep 0.2
  done
  BENCH_USERS=$USERS wrk -t2 -c"$CONNECTIONS" -d3s -s deploy/bench/sessions.lua \
    "http://127.0.0.1:$PORT/api/integrations/status" >/dev/null  # warm pools and caches
  BENCH_USERS=$USERS wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s deploy/bench/sessions.lua "http://127.0.0.1:$PORT/api/integrations/status" \
    >"$WORK/wrk.txt"
  kill -TERM "$GUNICORN_PID"; wait "$GUNICORN_PID" || true; GUNICORN_PID=""
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
  errors=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$WORK/wrk.txt")
  printf "%-14s round %d  %8s req/s  p50 %8s  p99 %8s  load %s  %s\n" "$model" "$round" \
    "$rps" "$p50" "$p99" "$(cut -d' ' -f1 /proc/loadavg)" "${errors:-no errors}"
}

echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c$CONNECTIONS" \
  "-d${DURATION}s; added round trip to PostgreSQL and Redis: ${RTT_MS} ms"
for round in $(seq 1 "$ROUNDS"); do
  for model in "${MODELS[@]}"; do
    run "$model" "$round"
  done
done
