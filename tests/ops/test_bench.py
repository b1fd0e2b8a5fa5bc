"""`make bench` and its tools still run: tiny loads, checked for shape, never for speed.

The figures themselves come from `make bench`; these tests only catch a harness that broke
(a moved module, a missing folder, a server that no longer starts, a reply that is not a 200).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ..support.app import TEST_DATABASE_URL, TEST_REDIS_URL
from ..support.requirements import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench_database() -> Iterator[tuple[str, str]]:
    """An admin URL on the test server and a database name of this run's own, dropped after."""
    require(
        "the bench harness",
        [
            ("TEST_DATABASE_URL", TEST_DATABASE_URL),
            ("TEST_REDIS_URL", TEST_REDIS_URL),
            ("wrk", shutil.which("wrk")),
        ],
    )
    assert TEST_DATABASE_URL
    name = f"integrations_bench_test_{uuid.uuid4().hex[:8]}"
    yield TEST_DATABASE_URL, name
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench(module: str, database: tuple[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    admin_url, name = database
    argv = [sys.executable, "-m", module, "--admin-url", admin_url, "--database", name]
    argv += ["--redis-url", str(TEST_REDIS_URL), "--keep-db", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_make_bench_measures_both_servers_and_writes_its_results(bench_database, tmp_path):
    output = tmp_path / "results.json"
    done = bench(
        "bench.run",
        bench_database,
        *("--users", "50", "--strategies", "jwt", "database", "--rounds", "1"),
        *("--duration", "1", "--warmup", "1", "--soak", "2", "--soak-interval", "1"),
        *("--cookies", "50", "--output", str(output)),
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(output.read_text())
    configs = {(c["strategy"], c["users"]): c for c in results["configs"]}
    assert set(configs) == {("jwt", 50), ("database", 50)}
    for (strategy, _), config in configs.items():
        targets = ["status", "bare", "floor"] + (["credentials"] if strategy == "jwt" else [])
        assert set(targets) <= set(config)
        for target in targets:
            assert config[target]["rps"] > 0
            assert config[target]["non_2xx"] == 0
            assert config[target]["cpu_us"] > 0
        assert config["distinct_cookies"] == 50
    assert {goal["goal"] for goal in results["goals"]} >= {
        "jwt status/floor at 50 users >= 0.6",
        "database status/floor at 50 users >= 0.6",
        "credentials read/status at 50 users >= 1.0",
    }
    assert results["soak"]["workers"] and results["soak"]["load"]["rps"] > 0
    assert "status/floor" in done.stdout


def test_micro_parts_times_every_variant(bench_database):
    done = bench(
        "bench.micro",
        bench_database,
        *("--strategy", "database", "--users", "50", "--requests", "20", "--repeat", "1"),
        "--parts",
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = next(line for line in done.stdout.splitlines() if line.startswith("median CPU"))
    for variant in ("status", "limits in memory", "limiter off", "bare + Flask-Limiter", "bare"):
        assert f"{variant} " in summary


def test_floor_compares_bare_flask_with_and_without_the_limiter(bench_database):
    done = bench("bench.floor", bench_database, "--rounds", "1", "--duration", "1", "--warmup", "1")

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("bare + Flask-Limiter") and "req/s" in line for line in lines)
    assert any(line.startswith("ratio (bare + Flask-Limiter)/bare:") for line in lines)
