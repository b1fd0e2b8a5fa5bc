"""Per-request cost in one process, without HTTP or wrk: steady even on a busy machine.

    .venv/bin/python -m bench.micro --strategy database --requests 3000 [--profile] [--parts]

Calls the WSGI app directly, one request after another, on the bench's PostgreSQL schema and
Redis, and reports wall and CPU microseconds per request for the service and the bare app.
--parts also times the service with its limits in memory and with the limiter off, which
separates the Redis round trip and Flask-Limiter's own work from the rest.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from werkzeug.test import EnvironBuilder

from . import bare_app, dataset, load, run

WsgiApp = Callable[[dict[str, Any], Any], Any]


def call(app: WsgiApp, environ: dict[str, Any]) -> int:
    status: list[str] = []

    def start_response(code: str, headers: Any, exc_info: Any = None) -> None:
        status.append(code)

    body = app(dict(environ), start_response)
    try:
        for _ in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    return int(status[0].split()[0])


def timed(app: WsgiApp, environs: list[dict[str, Any]], count: int) -> tuple[float, float]:
    """Microseconds per request: wall and this process's CPU."""
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        code = call(app, environs[n % len(environs)])
        if code != 200:
            raise RuntimeError(f"got {code}")
    return ((time.perf_counter() - wall) / count * 1e6, (time.process_time() - cpu) / count * 1e6)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.micro")
    p.add_argument("--strategy", choices=run.STRATEGIES, default="database")
    p.add_argument("--users", type=int, default=1_000)
    p.add_argument("--requests", type=int, default=3_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    p.add_argument(
        "--parts",
        action="store_true",
        help="also time the service with limits in memory and with the limiter off",
    )
    p.add_argument("--sort", default="tottime")
    own, rest = p.parse_known_args(argv)
    args = run.parse_args(rest)
    from webapp import create_app

    secret = f"micro-{uuid.uuid4().hex}"
    db_url = dataset.ensure_database(args.admin_url, args.database)
    env = {
        "APP_ENV": "production",
        "PUBLIC_BASE_URL": "https://integrations.example.com",
        "LOG_LEVEL": "INFO",
        "NEXTAUTH_SECRET": secret,
        "TOKEN_ENCRYPTION_KEYS": dataset.encryption_key(args.database),
        "RATELIMIT_STORAGE_URI": args.redis_url,
        "RATELIMIT_KEY_PREFIX": f"micro-{uuid.uuid4().hex[:8]}",
        "STATUS_RATE_LIMIT": args.rate_limit,
        "NEXTAUTH_SESSION_STRATEGY": own.strategy,
        "PATH": os.environ.get("PATH", ""),
    }
    data = dataset.prepare(db_url, own.users, env)
    cookie_file = dataset.write_cookies(
        data,
        own.strategy,
        dataset.sample_users(data, 500),
        secret,
        run.RESULTS / f"micro-cookies-{own.strategy}.txt",
    )
    app = create_app({**env, "DATABASE_URL": data.url})
    environs = [
        EnvironBuilder(
            path=load.PATH, headers=[("Cookie", f"{dataset.COOKIE_NAME}={c}")]
        ).get_environ()
        for c in cookie_file.read_text().split()
    ]
    cookie_file.unlink()
    logging.getLogger("webapp.request").disabled = False
    devnull = open(os.devnull, "w")  # noqa: SIM115
    for handler in logging.getLogger("webapp").handlers:
        handler.setStream(devnull)  # type: ignore[attr-defined]
    targets: dict[str, WsgiApp] = {"status": app}
    if own.parts:
        # What the Redis round trip and Flask-Limiter's own bookkeeping each add.
        in_memory = create_app(
            {**env, "DATABASE_URL": data.url, "RATELIMIT_STORAGE_URI": "memory://"}
        )
        targets["limits in memory"] = in_memory
        limiter_off = create_app({**env, "DATABASE_URL": data.url})
        limiter_off.extensions["rate_limiter"].enabled = False
        targets["limiter off"] = limiter_off
        targets["bare + Flask-Limiter on Redis"] = bare_app.limited_app(
            args.redis_url, args.rate_limit, env["RATELIMIT_KEY_PREFIX"]
        )
    targets["bare"] = bare_app.app
    for target in targets.values():
        timed(target, environs, 300)  # warm caches, pools and prepared statements
    cpu_seen: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(own.repeat):
        line = []
        for name, target in targets.items():
            wall, cpu = timed(target, environs, own.requests)
            cpu_seen[name].append(cpu)
            line.append(f"{name}: {wall:5.0f} us wall {cpu:5.0f} us CPU")
        print(" | ".join(line), flush=True)
    print(
        "median CPU us/request: "
        + ", ".join(f"{name} {statistics.median(seen):.0f}" for name, seen in cpu_seen.items())
    )
    if own.profile:
        # thread_time: charge each function its CPU, not time spent waiting for PostgreSQL/Redis.
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        timed(app, environs, own.requests)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(own.sort).print_stats(40)
        print(out.getvalue())
    _forget_counters(args.redis_url, env["RATELIMIT_KEY_PREFIX"])
    return 0


def _forget_counters(redis_url: str, prefix: str) -> None:
    """Delete this run's rate-limit keys from Redis."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


if __name__ == "__main__":
    raise SystemExit(main())
