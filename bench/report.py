"""The bench's table, goals and JSON."""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

# What "fast enough" means: of the floor (bare Flask + Flask-Limiter on Redis, the stack's own
# best), for both session strategies; a backend's credentials read as fast as a status request.
FLOOR_GOALS = {"jwt": 0.6, "database": 0.6}
CREDENTIALS_GOAL = 1.0
P99_GOAL_MS = 50.0
GROWTH_TOLERANCE = 0.10  # largest data size within 10% of the smallest's throughput
RSS_FLAT_MIB = 1.0  # a worker "grows" if its RSS rises more than this over the soak's 2nd half


def _worker_class() -> str:
    """As gunicorn runs it: a sync worker given more than one thread becomes gthread."""
    chosen = os.environ.get("GUNICORN_WORKER_CLASS") or "gthread"
    if chosen == "sync" and int(os.environ.get("GUNICORN_THREADS") or "4") > 1:
        return "gthread"
    return chosen


def environment(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "worker_model": {
            "workers": workers,
            "worker_class": _worker_class(),
            "threads": int(os.environ.get("GUNICORN_THREADS") or "4"),
        },
        "wrk": {
            "connections": args.connections,
            "threads": args.wrk_threads,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
        },
        "rate_limit": args.rate_limit,
        "service_root": str(args.service_root.resolve()),
    }


def header(meta: dict[str, Any]) -> str:
    model = meta["worker_model"]
    wrk = meta["wrk"]
    return (
        f"{meta['cpus']} CPUs, load {' '.join(map(str, meta['load_average_at_start']))}; "
        f"gunicorn {model['worker_class']} x{model['workers']} workers "
        f"x{model['threads']} threads; "
        f"wrk {wrk['connections']} connections, {wrk['rounds']} x {wrk['duration_s']:g}s per target"
    )


def config_line(result: dict[str, Any]) -> str:
    s, b, f = result["status"], result["bare"], result["floor"]
    line = (
        f"  {result['strategy']:<8} {result['users']:>7,} users: status {s['rps']:>7.0f} req/s "
        f"p99 {s['p99_ms']:>5.1f} ms {s['cpu_us']:>5} us CPU | floor {f['rps']:>7.0f} req/s "
        f"| bare {b['rps']:>7.0f} req/s | status/floor {result['floor_ratio']:.2f} "
        f"status/bare {result['ratio']:.2f}"
    )
    if "credentials" in result:
        c = result["credentials"]
        line += f" | credentials {c['rps']:.0f} req/s p99 {c['p99_ms']:.1f} ms"
    return line


def goals(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    smallest = min((c["users"] for c in configs), default=0)
    largest = max((c["users"] for c in configs), default=0)
    by_key = {(c["strategy"], c["users"]): c for c in configs}
    for c in configs:
        goal = FLOOR_GOALS[c["strategy"]]
        found.append(
            {
                "goal": f"{c['strategy']} status/floor at {c['users']:,} users >= {goal}",
                "value": c["floor_ratio"],
                "met": c["floor_ratio"] >= goal,
            }
        )
        if "credentials" in c:
            found.append(
                {
                    "goal": (
                        f"credentials read/status at {c['users']:,} users >= {CREDENTIALS_GOAL}"
                    ),
                    "value": c["credentials_ratio"],
                    "met": c["credentials_ratio"] >= CREDENTIALS_GOAL,
                }
            )
    for c in configs:
        p99 = c["status"]["p99_ms"]
        found.append(
            {
                "goal": f"{c['strategy']} p99 at {c['users']:,} users < {P99_GOAL_MS:g} ms",
                "value": p99,
                "met": p99 < P99_GOAL_MS,
            }
        )
    if largest != smallest:
        for strategy in FLOOR_GOALS:
            if (strategy, smallest) in by_key and (strategy, largest) in by_key:
                small = by_key[(strategy, smallest)]["status"]["rps"]
                large = by_key[(strategy, largest)]["status"]["rps"]
                found.append(
                    {
                        "goal": f"{strategy} req/s at {largest:,} within 10% of {smallest:,} users",
                        "value": round(large / small, 3),
                        "met": large >= small * (1 - GROWTH_TOLERANCE),
                    }
                )
    return found


def soak_summary(
    strategy: str, users: int, seconds: float, totals: dict[str, Any], samples: list[dict[str, Any]]
) -> dict[str, Any]:
    """Per worker: RSS at the start, middle and end of the soak, and growth in the second half."""
    first, last = samples[0]["rss_mib"], samples[-1]["rss_mib"]
    middle = samples[len(samples) // 2]["rss_mib"]
    workers = []
    for n in range(min(len(first), len(middle), len(last))):
        workers.append(
            {
                "start_mib": first[n],
                "middle_mib": middle[n],
                "end_mib": last[n],
                "max_mib": max(s["rss_mib"][n] for s in samples if len(s["rss_mib"]) > n),
                "growth_mib": round(last[n] - first[n], 1),
                "second_half_growth_mib": round(last[n] - middle[n], 1),
            }
        )
    flat = all(w["second_half_growth_mib"] <= RSS_FLAT_MIB for w in workers)
    return {
        "strategy": strategy,
        "users": users,
        "seconds": seconds,
        "load": totals,
        "workers": workers,
        "flat": flat,
        "samples": samples,
    }


def assemble(
    meta: dict[str, Any],
    configs: list[dict[str, Any]],
    soaked: dict[str, Any] | None,
    elapsed: float,
) -> dict[str, Any]:
    found = goals(configs)
    summary: dict[str, Any] = {
        "results": [
            {
                "strategy": c["strategy"],
                "users": c["users"],
                "status_rps": c["status"]["rps"],
                "status_p50_ms": c["status"]["p50_ms"],
                "status_p99_ms": c["status"]["p99_ms"],
                "bare_rps": c["bare"]["rps"],
                "bare_p50_ms": c["bare"]["p50_ms"],
                "bare_p99_ms": c["bare"]["p99_ms"],
                "floor_rps": c["floor"]["rps"],
                "ratio": c["ratio"],
                "floor_ratio": c["floor_ratio"],
                **(
                    {
                        "credentials_rps": c["credentials"]["rps"],
                        "credentials_p99_ms": c["credentials"]["p99_ms"],
                        "credentials_cpu_us_per_request": c["credentials"]["cpu_us"],
                    }
                    if "credentials" in c
                    else {}
                ),
                "status_cpu_us_per_request": c["status"]["cpu_us"],
                "bare_cpu_us_per_request": c["bare"]["cpu_us"],
                "cpu_ratio": c["cpu_ratio"],
                "rss_mib": c["rss_mib"]["after_rounds"],
                "non_2xx": c["status"]["non_2xx"] + c["bare"]["non_2xx"],
            }
            for c in configs
        ],
        "goals": {g["goal"]: {"value": g["value"], "met": g["met"]} for g in found},
    }
    if soaked:
        summary["soak"] = {
            k: soaked[k] for k in ("strategy", "users", "seconds", "flat", "workers")
        }
        summary["soak"]["rps"] = soaked["load"]["rps"]
        summary["soak"]["p99_ms"] = soaked["load"]["p99_ms"]
    return {
        "meta": {
            **meta,
            "elapsed_s": round(elapsed, 1),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "summary": summary,
        "goals": found,
        "configs": configs,
        "soak": soaked,
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        "",
        f"{'strategy':<9}{'users':>8}  {'target':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'/floor':>8}{'CPU us':>8}{'/bare':>7}  worker RSS MiB",
    ]
    for c in results["configs"]:
        for target in ("status", "credentials", "floor", "bare"):
            if target not in c:
                continue
            t = c[target]
            ratio = f"{t['rps'] / c['floor']['rps']:.2f}" if target != "bare" else ""
            cpu_ratio = f"{t['rps'] / c['bare']['rps']:.2f}" if target != "bare" else ""
            rss = (
                " ".join(f"{x:.0f}" for x in c["rss_mib"]["after_rounds"])
                if target == "status"
                else ""
            )
            bad = f"  !! {t['non_2xx']} non-2xx" if t["non_2xx"] else ""
            lines.append(
                f"{c['strategy']:<9}{c['users']:>8,}  {target:<12}{t['rps']:>9.0f}"
                f"{t['p50_ms']:>9.2f}{t['p99_ms']:>9.2f}{ratio:>8}{t['cpu_us']:>8}{cpu_ratio:>7}"
                f"  {rss}{bad}"
            )
    lines.append("")
    for g in results["goals"]:
        lines.append(f"  [{'met' if g['met'] else 'MISSED':>6}] {g['goal']}: {g['value']}")
    soaked = results["soak"]
    if soaked:
        lines.append("")
        lines.append(
            f"soak {soaked['strategy']} at {soaked['users']:,} users, {soaked['seconds']:.0f}s: "
            f"{soaked['load']['rps']:.0f} req/s, p99 {soaked['load']['p99_ms']:.1f} ms, "
            f"RSS {'flat' if soaked['flat'] else 'GROWING'}"
        )
        for n, w in enumerate(soaked["workers"], start=1):
            lines.append(
                f"  worker {n}: {w['start_mib']:.1f} -> {w['middle_mib']:.1f} -> "
                f"{w['end_mib']:.1f} MiB (max {w['max_mib']:.1f}; 2nd half "
                f"{w['second_half_growth_mib']:+.1f})"
            )
    return "\n".join(lines)
