"""One wrk run: requests/s, latency percentiles and error counts, from the Lua script's JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

LUA = Path(__file__).resolve().parent / "wrk_cookies.lua"
PATHS_LUA = Path(__file__).resolve().parent / "wrk_paths.lua"
PATH = "/api/integrations/status"


def wrk_binary() -> str:
    found = os.environ.get("WRK") or shutil.which("wrk") or "/usr/bin/wrk"
    if not Path(found).exists():
        raise SystemExit("wrk not found: install it (apt-get install wrk) or set WRK=/path/to/wrk")
    return found


def start(
    base_url: str, cookies: Path, seconds: float, connections: int, threads: int
) -> subprocess.Popen[str]:
    """wrk in the background: the status endpoint, each request with the next user's cookie."""
    return _wrk(LUA, f"{base_url}{PATH}", [str(cookies)], seconds, connections, threads)


def start_paths(
    base_url: str, paths: Path, key: str, seconds: float, connections: int, threads: int
) -> subprocess.Popen[str]:
    """wrk in the background: each request a GET of the next path, with a service key."""
    args = [str(paths), f"Bearer {key}"]
    return _wrk(PATHS_LUA, base_url, args, seconds, connections, threads)


def _wrk(
    script: Path, url: str, args: list[str], seconds: float, connections: int, threads: int
) -> subprocess.Popen[str]:
    """wrk with `connections` keep-alive connections for `seconds`."""
    argv = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
        "--",
        *args,
    ]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(wrk: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait for wrk; requests/s, latency percentiles (ms) and error counts."""
    stdout, stderr = wrk.communicate()
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk failed ({wrk.returncode}): {stderr or stdout}")
    line = next(x for x in stdout.splitlines() if x.startswith("BENCH_JSON "))
    raw: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    errors = raw["errors"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds_run, 2),
        "rps": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(latency["p50"] / 1000, 2),
        "p90_ms": round(latency["p90"] / 1000, 2),
        "p99_ms": round(latency["p99"] / 1000, 2),
        "max_ms": round(latency["max"] / 1000, 2),
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    }


def run(
    base_url: str, cookies: Path, seconds: float, connections: int, threads: int
) -> dict[str, Any]:
    """One wrk run to completion."""
    return finish(start(base_url, cookies, seconds, connections, threads))
