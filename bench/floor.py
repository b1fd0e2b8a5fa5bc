"""What the fixed parts alone cost: bare Flask against bare Flask plus Flask-Limiter on Redis.

    .venv/bin/python -m bench.floor [--rounds 3 --duration 8]

Both run under the shipped worker model, loaded alternately by wrk as `make bench` loads the
service. The limited app does nothing but count each request in Redis through Flask-Limiter
(one round trip, as the service's limiter makes), so its ratio to bare Flask is the best the
status endpoint could reach before it reads a session, queries PostgreSQL, logs or sets a header.
"""

from __future__ import annotations

import statistics

from . import report, run


def main(argv: list[str] | None = None) -> int:
    args = run.parse_args(argv)
    args.keep_db = True  # this uses no database: leave make bench's alone
    bench = run.Bench(args)
    print(report.header(report.environment(args, bench.workers)), flush=True)
    cookies = bench.work / "cookies.txt"
    cookies.write_text("unused\n")  # the bare apps read no cookie; wrk's script wants one
    try:
        servers = {
            "bare": bench.start("bare", "bench/gunicorn_bare.conf.py", "bench.bare_app:app", {}),
            "bare + Flask-Limiter": bench.start(
                "limited", "bench/gunicorn_bare.conf.py", "bench.limited_app:app", {}
            ),
        }
        for server in servers.values():
            bench.load(server, cookies, args.warmup)
        rounds = run.alternate(
            bench,
            {
                name: (lambda seconds, server=server: bench.load(server, cookies, seconds))
                for name, server in servers.items()
            },
        )
    finally:
        bench.cleanup()
    summary = {name: run.summarise(found) for name, found in rounds.items()}
    for name, found in summary.items():
        print(
            f"{name:22s} {found['rps']:7.0f} req/s  p99 {found['p99_ms']:6.1f} ms"
            f"  {found['cpu_us']:5d} us CPU/request  non-2xx {found['non_2xx']}"
        )
    bare, limited = summary["bare"], summary["bare + Flask-Limiter"]
    paired = zip(rounds["bare + Flask-Limiter"], rounds["bare"], strict=True)
    ratio = statistics.median(x["rps"] / y["rps"] for x, y in paired)
    print(
        f"ratio (bare + Flask-Limiter)/bare: {limited['rps'] / bare['rps']:.2f} by median req/s,"
        f" {ratio:.2f} by paired rounds, {bare['cpu_us'] / limited['cpu_us']:.2f} by CPU"
    )
    return 1 if bare["non_2xx"] or limited["non_2xx"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
