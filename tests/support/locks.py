"""PostgreSQL's locks as tests watch them from outside: who waits for whom, what a backend has
written, how many deadlocks the server has broken; and work on a thread of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg


def blocked_behind(
    database_url: str, other: psycopg.Connection | int, timeout: float = 10.0
) -> int:
    """The backend that waits for `other` (a connection, or a backend's pid), once there is one."""
    pid = other if isinstance(other, int) else other.info.backend_pid
    deadline = time.monotonic() + timeout
    # Autocommit: a transaction would see one snapshot of pg_stat_activity throughout.
    with psycopg.connect(database_url, autocommit=True) as observer:
        while time.monotonic() < deadline:
            waiting = observer.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (pid,)
            ).fetchall()
            if waiting:
                return int(waiting[0][0])
            time.sleep(0.02)
    raise AssertionError(f"nothing waited for backend {pid}")


def holds_rows_of(database_url: str, pid: int, table: str) -> bool:
    """The backend has written rows of `table` in its open transaction (RowExclusiveLock)."""
    with psycopg.connect(database_url, autocommit=True) as observer:
        found = observer.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND c.relname = %s AND l.mode = 'RowExclusiveLock' AND l.granted",
            (pid, table),
        ).fetchone()
    return bool(found and found[0])


def deadlocks(database_url: str) -> int:
    """The deadlocks PostgreSQL has detected (and broken) in the URL's database."""
    with psycopg.connect(database_url, autocommit=True) as observer:
        found = observer.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert found is not None
    return int(found[0])


def deadlocks_after(database_url: str, before: int, settle: float = 2.0) -> int:
    """How many deadlocks were detected since `before`, once the counts have been reported.

    A backend reports its counts when idle (at most once a second) or when it exits: call this
    after the app's connections are closed, and it waits `settle` seconds for a late report.
    """
    deadline = time.monotonic() + settle
    while (found := deadlocks(database_url) - before) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def in_thread(work: Callable[[], Any]) -> Callable[[], Any]:
    """Run `work` on a thread; the returned function joins it and gives its result."""
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", work()), daemon=True)
    thread.start()

    def join() -> Any:
        thread.join(timeout=30)
        assert not thread.is_alive()
        return result["value"]

    return join
