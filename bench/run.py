"""`make bench`: the status endpoint against a bare Flask app, same gunicorn worker model.

For every session strategy and data size, the service is started with the shipped
gunicorn.conf.py on PostgreSQL and Redis, and wrk loads it and the bare app in turn, round
after round, so a busy neighbour on the machine slows both alike. Prints a table and JSON and
writes bench/results/latest.json. Optionally soaks the service and watches worker RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from . import dataset, load, report, servers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
STRATEGIES = ("jwt", "database")
# Settings the shipped gunicorn.conf.py reads; both servers get the same values.
WORKER_MODEL_VARS = (
    "WEB_CONCURRENCY",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_THREADS",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    p.add_argument(
        "--users",
        nargs="+",
        type=int,
        default=[1_000, 100_000],
        help="data sizes: creators seeded, four integrations each",
    )
    p.add_argument("--duration", type=float, default=8, help="seconds per wrk round")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")
    p.add_argument("--warmup", type=float, default=3, help="seconds of unmeasured load first")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument(
        "--cookies", type=int, default=10_000, help="distinct creators' cookies wrk rotates through"
    )
    p.add_argument(
        "--rate-limit",
        default="1000000 per minute",
        help="STATUS_RATE_LIMIT: the limiter runs but never refuses",
    )
    p.add_argument(
        "--soak",
        type=float,
        default=30,
        help="seconds of continuous load while sampling worker RSS (0: skip)",
    )
    p.add_argument("--soak-strategy", choices=STRATEGIES, default="database")
    p.add_argument("--soak-interval", type=float, default=10)
    p.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL URL allowed to CREATE DATABASE",
    )
    p.add_argument(
        "--database",
        default="integrations_bench",
        help="the bench's own database (created if absent)",
    )
    p.add_argument("--keep-db", action="store_true", help="keep the database for the next run")
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    p.add_argument(
        "--service-root",
        type=Path,
        default=ROOT,
        help="checkout whose service is measured (e.g. a copy of the previous version)",
    )
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    p.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    return p.parse_args(argv)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = uuid.uuid4().hex[:10]
        self.work = Path(tempfile.mkdtemp(prefix="integrations-bench-"))
        self.logs = RESULTS / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.secret = f"bench-secret-{uuid.uuid4().hex}"
        self.workers = int(os.environ.get("WEB_CONCURRENCY") or "2")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "APP_ENV": "production",
            "PUBLIC_BASE_URL": "https://integrations.example.com",
            "LOG_LEVEL": "INFO",
            "NEXTAUTH_SECRET": self.secret,
            # The same for every run on this database, so a kept one's secrets stay readable.
            "TOKEN_ENCRYPTION_KEYS": dataset.encryption_key(args.database),
            "RATELIMIT_STORAGE_URI": args.redis_url,
            "RATELIMIT_KEY_PREFIX": f"bench-{self.run_id}",
            "STATUS_RATE_LIMIT": args.rate_limit,
            "PLATFORM_RATE_LIMIT": args.rate_limit,  # one key reads every credential
            **{k: os.environ[k] for k in WORKER_MODEL_VARS if os.environ.get(k)},
        }
        self.running: list[servers.Server] = []

    def start(self, name: str, config: str, app: str, extra: dict[str, str]) -> servers.Server:
        """The service (run from --service-root) or, for bench/..., the bare app."""
        metrics_dir = self.work / f"metrics-{name}"
        env = {**self.env, **extra, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        cwd = ROOT if config.startswith("bench/") else self.args.service_root.resolve()
        server = servers.start(name, config, app, env, self.logs, self.workers, cwd)
        self.running.append(server)
        return server

    def stop(self, server: servers.Server) -> None:
        server.stop()
        self.running.remove(server)

    def load(self, server: servers.Server, cookies: Path, seconds: float) -> dict[str, Any]:
        """One wrk run of the status endpoint, plus the workers' CPU time per request (steadier
        than req/s when the machine is shared)."""
        a = self.args
        started = load.start(server.base_url, cookies, seconds, a.connections, a.wrk_threads)
        return self._measured(server, started)

    def load_credentials(
        self, server: servers.Server, reads: tuple[Path, str], seconds: float
    ) -> dict[str, Any]:
        """One wrk run of credentials reads (paths, key), measured as load() measures."""
        a = self.args
        paths, key = reads
        started = load.start_paths(
            server.base_url, paths, key, seconds, a.connections, a.wrk_threads
        )
        return self._measured(server, started)

    def _measured(self, server: servers.Server, wrk: Any) -> dict[str, Any]:
        cpu_before = server.worker_cpu_seconds()
        result = load.finish(wrk)
        cpu = server.worker_cpu_seconds() - cpu_before
        result["worker_cpu_us_per_request"] = round(cpu / max(result["requests"], 1) * 1e6)
        return result

    def cleanup(self) -> None:
        for server in list(self.running):
            self.stop(server)
        if not self.args.keep_db:
            dataset.drop_database(self.args.admin_url, self.args.database)
        client = redis.Redis.from_url(self.args.redis_url)
        keys = list(client.scan_iter(match=f"*bench-{self.run_id}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()
        shutil.rmtree(self.work, ignore_errors=True)


def start_service(
    bench: Bench, data: dataset.Dataset, strategy: str, name: str
) -> tuple[servers.Server, Path, int]:
    """The service on one data size and session strategy, a file of its users' cookies, and
    how many distinct users those are."""
    users = dataset.sample_users(data, bench.args.cookies)
    cookies = dataset.write_cookies(data, strategy, users, bench.secret, bench.work / f"{name}.txt")
    service = bench.start(
        name,
        "gunicorn.conf.py",
        "wsgi:app",
        {"DATABASE_URL": data.url, "NEXTAUTH_SESSION_STRATEGY": strategy},
    )
    return service, cookies, len(users)


def measure(
    bench: Bench,
    bare: servers.Server,
    floor: servers.Server,
    data: dataset.Dataset,
    strategy: str,
) -> dict[str, Any]:
    """Alternating wrk rounds of the bare app, the floor (bare + Flask-Limiter on Redis) and the
    service for one strategy and data size; with the first strategy, also of a platform backend
    reading fresh credentials from the service."""
    a = bench.args
    name = f"status-{strategy}-{data.users}"
    service, cookies, distinct_users = start_service(bench, data, strategy, name)
    reads = credential_reads(bench, data, name) if strategy == a.strategies[0] else None
    try:
        check_reply(service, cookies, a.rate_limit)
        bench.load(service, cookies, a.warmup)
        bench.load(bare, cookies, a.warmup)
        bench.load(floor, cookies, a.warmup)
        loads: dict[str, Callable[[float], dict[str, Any]]] = {
            "bare": lambda s: bench.load(bare, cookies, s),
            "floor": lambda s: bench.load(floor, cookies, s),
            "status": lambda s: bench.load(service, cookies, s),
        }
        if reads is not None:
            check_credentials(service, reads)
            loads["credentials"] = lambda s: bench.load_credentials(service, reads, s)
        rss_before = service.worker_rss_mib()
        rounds = alternate(bench, loads)
        rss_after = service.worker_rss_mib()
    finally:
        bench.stop(service)
    status, bare_summary = summarise(rounds["status"]), summarise(rounds["bare"])
    floor_summary = summarise(rounds["floor"])
    result = {
        "strategy": strategy,
        "users": data.users,
        "distinct_cookies": distinct_users,
        "status": status,
        "bare": bare_summary,
        "floor": floor_summary,
        "ratio": round(status["rps"] / bare_summary["rps"], 3),
        # Of its own stack's best: bare Flask with Flask-Limiter counting it in Redis.
        "floor_ratio": round(status["rps"] / floor_summary["rps"], 3),
        # What the ratio would be if the workers had the CPUs to themselves.
        "cpu_ratio": round(bare_summary["cpu_us"] / status["cpu_us"], 3),
        "rss_mib": {"after_warmup": _by_worker(rss_before), "after_rounds": _by_worker(rss_after)},
    }
    if "credentials" in rounds:
        result["credentials"] = summarise(rounds["credentials"])
        result["credentials_ratio"] = round(result["credentials"]["rps"] / status["rps"], 3)
    print(report.config_line(result), flush=True)
    return result


def credential_reads(bench: Bench, data: dataset.Dataset, name: str) -> tuple[Path, str] | None:
    """The paths of fresh credentials of the sampled creators and a key to read them (None
    for a version of the service without the backends' API)."""
    root = bench.args.service_root.resolve()
    key = dataset.service_key(data, bench.env, f"bench-{bench.run_id}-{name}", root)
    if key is None:
        return None
    users = dataset.sample_users(data, bench.args.cookies)
    return dataset.write_credential_paths(data, users, bench.work / f"{name}-paths.txt"), key


def check_credentials(service: servers.Server, reads: tuple[Path, str]) -> None:
    """One credentials read answers with a token, and renews nothing."""
    paths, key = reads
    path = paths.read_text().split("\n", 1)[0]
    request = urllib.request.Request(
        f"{service.base_url}{path}", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            body = json.loads(reply.read())
    except urllib.error.HTTPError as error:
        _no_reply(error)
    if reply.status != 200 or not body.get("data", {}).get("accessToken"):
        raise RuntimeError(f"{service.name}: a credentials read answered {reply.status}")


def _no_reply(error: urllib.error.HTTPError) -> None:
    raise RuntimeError(
        f"a credentials read answered {error.code}: a database kept from a run with another "
        "TOKEN_ENCRYPTION_KEYS? Run once without --keep-db."
    ) from error


def alternate(
    bench: Bench, loads: dict[str, Callable[[float], dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """--rounds wrk runs of each load, taking turns; the order flips every round so that
    none always follows another (a busy machine then slows them alike)."""
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in loads}
    order = list(loads.items())
    for number in range(bench.args.rounds):
        for name, run in order if number % 2 == 0 else order[::-1]:
            rounds[name].append(run(bench.args.duration))
    return rounds


def _by_worker(rss: dict[int, float]) -> list[float]:
    return [round(value, 1) for _, value in sorted(rss.items())]


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of the rounds (robust to one disturbed round); every round kept for the record."""
    return {
        "rps": round(statistics.median(r["rps"] for r in rounds), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in rounds), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in rounds), 2),
        "cpu_us": round(statistics.median(r["worker_cpu_us_per_request"] for r in rounds)),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "rounds": rounds,
    }


def check_reply(service: servers.Server, cookies: Path, rate_limit: str) -> None:
    """One signed-in request answers as the contract says, with the raised limit in its headers."""
    token = cookies.read_text().split("\n", 1)[0]
    request = urllib.request.Request(
        f"{service.base_url}{load.PATH}", headers={"Cookie": f"{dataset.COOKIE_NAME}={token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        body = json.loads(reply.read())
        headers = reply.headers
    problems = []
    if reply.status != 200 or body.get("success") is not True:
        problems.append(f"status {reply.status}")
    if len(body.get("data", {}).get("integrations", [])) != 4:
        problems.append("not the four demo integrations")
    if headers.get("X-RateLimit-Limit") != rate_limit.split()[0]:
        problems.append(f"X-RateLimit-Limit {headers.get('X-RateLimit-Limit')!r}")
    for name in (
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-Correlation-Id",
        "X-Duration-Ms",
        "Cache-Control",
    ):
        if name not in headers:
            problems.append(f"no {name}")
    if problems:
        raise RuntimeError(f"{service.name} answered wrongly: {', '.join(problems)}")


def soak(bench: Bench, data: dataset.Dataset) -> dict[str, Any]:
    """Continuous load on the service while worker RSS is sampled every soak-interval seconds."""
    a = bench.args
    strategy = a.soak_strategy
    name = f"soak-{strategy}-{data.users}"
    service, cookies, _ = start_service(bench, data, strategy, name)
    print(f"soak: {a.soak:.0f}s of load on {strategy} at {data.users:,} users", flush=True)
    try:
        bench.load(service, cookies, a.warmup)
        running = load.start(service.base_url, cookies, a.soak, a.connections, a.wrk_threads)
        started = time.monotonic()
        samples = []
        while running.poll() is None:
            samples.append(
                {
                    "t": round(time.monotonic() - started, 1),
                    "rss_mib": _by_worker(service.worker_rss_mib()),
                }
            )
            time.sleep(min(a.soak_interval, max(0.5, a.soak - (time.monotonic() - started))))
        totals = load.finish(running)
        samples.append(
            {
                "t": round(time.monotonic() - started, 1),
                "rss_mib": _by_worker(service.worker_rss_mib()),
            }
        )
    finally:
        bench.stop(service)
    return report.soak_summary(strategy, data.users, a.soak, totals, samples)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    started = time.time()
    meta = report.environment(args, bench.workers)
    print(report.header(meta), flush=True)
    configs: list[dict[str, Any]] = []
    soaked: dict[str, Any] | None = None
    try:
        print(f"preparing database {args.database}", flush=True)
        db_url = dataset.ensure_database(args.admin_url, args.database)
        root = args.service_root.resolve()
        datasets = [dataset.prepare(db_url, n, bench.env, root) for n in sorted(args.users)]
        bare = bench.start("bare", "bench/gunicorn_bare.conf.py", "bench.bare_app:app", {})
        floor = bench.start("floor", "bench/gunicorn_bare.conf.py", "bench.limited_app:app", {})
        for data in datasets:
            for strategy in args.strategies:
                configs.append(measure(bench, bare, floor, data, strategy))
        bench.stop(bare)
        bench.stop(floor)
        if args.soak > 0:
            soaked = soak(bench, datasets[-1])
    finally:
        bench.cleanup()
    results = report.assemble(meta, configs, soaked, time.time() - started)
    print(report.table(results))
    print(json.dumps(results["summary"], indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"wrote {shown}")
    invalid = any(
        c[target]["non_2xx"]
        for c in configs
        for target in ("status", "bare", "floor", "credentials")
        if target in c
    )
    missed = any(not goal["met"] for goal in results["goals"])
    return 1 if invalid or (args.check and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
