"""Where a status request spends its CPU: py-spy samples every worker while wrk loads them.

    .venv/bin/pip install py-spy   # an investigation tool, not a requirement
    .venv/bin/python -m bench.profile --strategy database --users 1000 --seconds 20

Prints the functions with the most inclusive and self time, and writes the collapsed stacks
(bench/results/profile-<strategy>.txt) for speedscope or flamegraph.pl.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
from pathlib import Path

from . import dataset, load, run

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("--strategy", choices=run.STRATEGIES, default="database")
    p.add_argument("--users", type=int, default=1_000)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--top", type=int, default=45)
    p.add_argument("--pattern", default="", help="only report frames containing this text")
    p.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL: Python CPU, not waiting",
    )
    own, rest = p.parse_known_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("needs py-spy: .venv/bin/pip install py-spy")
    args = run.parse_args([*rest, "--keep-db", "--soak", "0"])
    bench = run.Bench(args)
    out = RESULTS / f"profile-{own.strategy}-{own.users}.txt"
    try:
        db_url = dataset.ensure_database(args.admin_url, args.database)
        data = dataset.prepare(db_url, own.users, bench.env)
        cookies = dataset.write_cookies(
            data,
            own.strategy,
            dataset.sample_users(data, args.cookies),
            bench.secret,
            bench.work / "cookies.txt",
        )
        service = bench.start(
            "profile",
            "gunicorn.conf.py",
            "wsgi:app",
            {"DATABASE_URL": data.url, "NEXTAUTH_SESSION_STRATEGY": own.strategy},
        )
        bench.load(service, cookies, args.warmup)
        wrk = load.start(
            service.base_url, cookies, own.seconds + 4, args.connections, args.wrk_threads
        )
        subprocess.run(
            [
                py_spy,
                "record",
                "--pid",
                str(service.process.pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "250",
                "--duration",
                str(round(own.seconds)),
                "--format",
                "raw",
                "--output",
                str(out),
                *(["--gil"] if own.gil else []),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(load.finish(wrk))
    finally:
        args.keep_db = True
        bench.cleanup()
    print_top(out, own.top, own.pattern)
    print(f"collapsed stacks: {out}")
    return 0


def print_top(path: Path, top: int, pattern: str) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    self_time: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")"
            if " (" in f
            else f
            for f in frames
        ]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            self_time[frames[-1]] += count
    print(f"{total} samples; inclusive %:")
    shown = 0
    for frame, count in inclusive.most_common():
        if pattern in frame:
            print(f"  {100 * count / total:5.1f}  {frame}")
            shown += 1
            if shown >= top:
                break
    print("self %:")
    for frame, count in self_time.most_common(25):
        print(f"  {100 * count / total:5.1f}  {frame}")


if __name__ == "__main__":
    raise SystemExit(main())
