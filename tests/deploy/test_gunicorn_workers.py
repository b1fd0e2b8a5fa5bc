"""Under a real gunicorn with several workers, Redis gives each user one shared budget."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade

from webapp import create_app
from webapp.database import dispose_engines
from webapp.extensions import db
from webapp.models import Integration, User

from ..support.app import TEST_REDIS_URL, jwt_cookie, service_env
from ..support.processes import free_port, start_gunicorn, stop

pytestmark = pytest.mark.skipif(
    not TEST_REDIS_URL and os.environ.get("CI") != "true",
    reason="needs Redis shared by the workers: set TEST_REDIS_URL",
)

URL = "/api/integrations/status"
WORKERS = 3


@dataclass
class Reply:
    status: int
    headers: Message
    body: Any


@dataclass
class Gunicorn:
    port: int
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def get(self, path: str, cookie: str | None = None) -> Reply:
        """One request on a new connection, so any worker may take it."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Connection": "close"}
        if cookie is not None:
            headers["Cookie"] = f"next-auth.session-token={cookie}"
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            body = (
                json.loads(raw)
                if response.getheader("Content-Type", "").startswith("application/json")
                else raw.decode()
            )
            return Reply(response.status, response.headers, body)
        finally:
            conn.close()

    def worker_pids(self) -> set[int]:
        marker = "Booting worker with pid: "
        lines = self.stderr.read_text().splitlines()
        return {int(line.split(marker)[1]) for line in lines if marker in line}

    def request_log(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.stdout.read_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("logger") == "webapp.request":
                    entries.append(entry)
        return entries


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    """Settings for a migrated SQLite file holding users 1 and 2, each with one integration."""
    env = service_env(
        f"sqlite:///{tmp_path / 'app.db'}",
        NEXTAUTH_SESSION_STRATEGY="jwt",
        RATELIMIT_STORAGE_URI=TEST_REDIS_URL or "",
    )
    app = create_app(env)
    with app.app_context():
        upgrade()
        for user_id in (1, 2):
            db.session.add(User(id=user_id, name=f"User {user_id}"))
            db.session.flush()
            db.session.add(
                Integration(
                    user_id=user_id,
                    provider="reddit",
                    account_id=f"acct-{user_id}",
                    account_name=f"u/{user_id}",
                )
            )
        db.session.commit()
        dispose_engines()
    return env


@pytest.fixture
def gunicorn(app_env: dict[str, str], tmp_path: Path) -> Iterator[Gunicorn]:
    port = free_port()
    env = {
        **app_env,
        "PATH": os.environ.get("PATH", ""),
        "PYTHONUNBUFFERED": "1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_WORKER_CLASS": "sync",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
    }
    stdout, stderr = tmp_path / "gunicorn.out", tmp_path / "gunicorn.err"
    process = start_gunicorn(env, stdout, stderr)
    server = Gunicorn(port, process, stdout, stderr)
    try:
        wait_until_serving(server)
        yield server
    finally:
        stop(process)


def wait_until_serving(server: Gunicorn, timeout: float = 30.0) -> None:
    """Every worker booted and one of them answering, or fail with gunicorn's stderr."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{_tail(server)}")
        if len(server.worker_pids()) == WORKERS:
            try:
                server.get("/api/not-a-route")
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            pytest.fail(f"gunicorn did not answer within {timeout} s:\n{_tail(server)}")
        time.sleep(0.05)


def _tail(server: Gunicorn) -> str:
    return server.stderr.read_text()[-4000:]


def test_workers_share_one_budget_per_user(gunicorn):
    alice = jwt_cookie("1")

    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda _: gunicorn.get(URL, alice), range(61)))
    bob = gunicorn.get(URL, jwt_cookie("2"))

    assert Counter(r.status for r in replies) == {200: 60, 429: 1}
    [refused] = [r for r in replies if r.status == 429]
    assert refused.body == {
        "success": False,
        "error": {
            "code": "RATE_LIMIT_EXCEEDED",
            "message": "Too many requests. Please try again later.",
        },
    }
    assert refused.headers["Retry-After"].isdigit()
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert [r.headers["X-RateLimit-Limit"] for r in replies] == ["60"] * 61
    served_accounts = [
        [item["accountId"] for item in r.body["data"]["integrations"]]
        for r in replies
        if r.status == 200
    ]
    assert served_accounts == [["acct-1"]] * 60

    assert bob.status == 200
    assert bob.headers["X-RateLimit-Remaining"] == "59"
    assert [i["accountId"] for i in bob.body["data"]["integrations"]] == ["acct-2"]

    served = [e for e in gunicorn.request_log() if e["path"] == URL and e["userId"] == 1]
    assert Counter(e["status"] for e in served) == {200: 60, 429: 1}
    pids = {e["pid"] for e in served}
    assert len(pids) >= 2, f"one worker served everything: {pids}"
    assert pids <= gunicorn.worker_pids()


def test_metrics_add_up_every_workers_requests(gunicorn):
    alice = jwt_cookie("1")
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda _: gunicorn.get(URL, alice), range(30)))

    metrics = gunicorn.get("/metrics").body

    served = [e for e in gunicorn.request_log() if e["path"] == URL]
    assert len({e["pid"] for e in served}) >= 2
    assert (
        'integrations_http_request_duration_seconds_count{endpoint="api.integrations_status",'
        'method="GET",status="200"} 30.0'
    ) in metrics
