"""GET /api/integrations/status when the database is refused, silent, broken or dropped."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text
from werkzeug.test import TestResponse

from webapp import create_app
from webapp.database import dispose_engines
from webapp.extensions import db
from webapp.logs import JsonFormatter
from webapp.models import Integration, Session, User
from webapp.timeutil import utcnow

from ..support.app import (
    TEST_DATABASE_URL,
    fresh_postgres_schema,
    jwt_cookie,
    service_env,
)
from ..support.tcp import TcpStandIn as StandIn
from ..support.tcp import at_port, closed_port

URL = "/api/integrations/status"
COOKIE = "next-auth.session-token"
CACHE_CONTROL = "private, no-cache, no-store, must-revalidate"
FAILED = {"code": "INTERNAL_ERROR", "message": "Failed to fetch integrations"}
RETRYING = "database connection failed, retrying"

needs_postgres = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="needs PostgreSQL: set TEST_DATABASE_URL"
)


@pytest.fixture
def build_app() -> Iterator[Callable[..., Flask]]:
    """create_app() on any database URL; nothing is migrated or connected up front."""
    apps: list[Flask] = []

    def build(database_url: str, **overrides: str) -> Flask:
        app = create_app(service_env(database_url, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            dispose_engines()


@pytest.fixture
def db_log() -> Iterator[list[dict[str, Any]]]:
    """The database layer's records as JSON, whenever the app is built.

    Listens on "webapp.db" rather than "webapp": the first create_app() in a process
    replaces the "webapp" logger's handlers, which would silently drop this one.
    """
    records: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(json.loads(JsonFormatter().format(record)))

    handler = Collect()
    logger = logging.getLogger("webapp.db")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.fixture
def stand_in() -> Iterator[Callable[..., StandIn]]:
    servers: list[StandIn] = []

    def start(mode: str, upstream: tuple[str, int] | None = None) -> StandIn:
        servers.append(StandIn(mode, upstream))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields its URL (search_path set), dropped afterwards."""
    with fresh_postgres_schema() as url:
        yield url


def migrate_and_seed(app: Flask, user_id: int, accounts: list[str]) -> str:
    """Migrate, add a user with reddit accounts and a session row; returns the session token."""
    token = str(uuid.uuid4())
    with app.app_context():
        upgrade()
        db.session.add(User(id=user_id, name="Creator"))
        db.session.flush()
        for account in accounts:
            db.session.add(
                Integration(
                    user_id=user_id, provider="reddit", account_id=account, account_name=account
                )
            )
        db.session.add(
            Session(user_id=user_id, session_token=token, expires=utcnow() + timedelta(days=1))
        )
        db.session.commit()
    return token


def timed_get(app: Flask, cookie: str) -> tuple[TestResponse, float]:
    client = app.test_client()
    client.set_cookie(COOKIE, cookie)
    started = time.monotonic()
    response = client.get(URL)
    return response, time.monotonic() - started


def cookie_for(strategy: str, user_id: int, session_token: str) -> str:
    return jwt_cookie(str(user_id)) if strategy == "jwt" else session_token


def assert_failed_to_fetch(response: TestResponse) -> None:
    """The contract's 500: exact body, Retry-After: 60 and the headers every response has."""
    assert response.status_code == 500
    body = response.get_json()
    assert list(body) == ["success", "error", "duration"]
    assert body == {"success": False, "error": FAILED, "duration": body["duration"]}
    assert type(body["duration"]) is int
    assert body["duration"] == int(response.headers["X-Duration-Ms"])
    assert response.headers["Retry-After"] == "60"
    correlation_id = response.headers["X-Correlation-Id"]
    assert str(uuid.UUID(correlation_id)) == correlation_id
    assert response.headers["Cache-Control"] == CACHE_CONTROL


def retry_delays(records: list[dict[str, Any]]) -> list[int]:
    return [r["delayMs"] for r in records if r["message"] == RETRYING]


def record_retry_waits(app: Flask) -> list[float]:
    """The app's waits between database retries, recorded instead of slept (seconds)."""
    waits: list[float] = []
    app.extensions["sleep"] = waits.append
    return waits


def account_ids(response: TestResponse) -> list[str]:
    return [item["accountId"] for item in response.get_json()["data"]["integrations"]]


@pytest.mark.parametrize("strategy", ["jwt", "database"])
def test_refused_database_gets_500_after_backing_off_100_200_400_ms(build_app, db_log, strategy):
    """The waits really pass here (and count in `duration`); other tests record them instead."""
    app = build_app(
        f"postgresql://postgres@127.0.0.1:{closed_port()}/test",
        NEXTAUTH_SESSION_STRATEGY=strategy,
    )

    response, elapsed = timed_get(app, cookie_for(strategy, 1, str(uuid.uuid4())))

    assert_failed_to_fetch(response)
    assert 0.7 <= elapsed < 2.0
    assert response.get_json()["duration"] >= 700
    assert retry_delays(db_log) == [100, 200, 400]
    assert [r["attempt"] for r in db_log if r["message"] == RETRYING] == [1, 2, 3]
    assert [r["level"] for r in db_log] == ["warning", "warning", "warning", "error"]


def test_silent_database_gets_500_within_two_seconds_after_four_attempts(
    build_app, db_log, stand_in
):
    silent_server = stand_in("silent")
    app = build_app(
        f"postgresql://postgres@127.0.0.1:{silent_server.port}/test",
        NEXTAUTH_SESSION_STRATEGY="jwt",
    )

    response, elapsed = timed_get(app, jwt_cookie("1"))

    assert_failed_to_fetch(response)
    assert 0.7 <= elapsed < 2.0
    assert silent_server.wait_for_accepted(4) == 4
    assert retry_delays(db_log) == [100, 200, 400]


def test_query_error_is_not_retried(app, client, add_user, db_session_cookie, db_log):
    add_user(1, [{"provider": "reddit", "account_id": "r", "account_name": "u/r"}])
    client.set_cookie(COOKIE, db_session_cookie(1))
    with app.app_context():
        db.session.execute(text("DROP TABLE account_aliases"))  # it refers to integrations
        db.session.execute(text("DROP TABLE integrations"))
        db.session.commit()

    response = client.get(URL)

    assert_failed_to_fetch(response)
    assert retry_delays(db_log) == []
    assert [r["level"] for r in db_log] == ["error"]


@needs_postgres
@pytest.mark.postgres_only
@pytest.mark.parametrize("strategy", ["jwt", "database"])
def test_dropped_connection_is_retried_once_and_answers_200(build_app, pg_schema, db_log, strategy):
    name = f"faults_{uuid.uuid4().hex[:12]}"
    app = build_app(f"{pg_schema}&application_name={name}", NEXTAUTH_SESSION_STRATEGY=strategy)
    waits = record_retry_waits(app)
    cookie = cookie_for(strategy, 7, migrate_and_seed(app, 7, ["a", "b"]))
    assert timed_get(app, cookie)[0].status_code == 200

    assert TEST_DATABASE_URL
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        ).fetchall()
        assert killed and all(ok for (ok,) in killed)
        # pg_terminate_backend only signals: wait until the backends are really gone.
        deadline = time.monotonic() + 10
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "terminated backends did not exit"
            time.sleep(0.01)

    response, _ = timed_get(app, cookie)

    assert response.status_code == 200
    assert account_ids(response) == ["a", "b"]
    assert retry_delays(db_log) == [100]
    assert waits == [0.1]


@needs_postgres
@pytest.mark.postgres_only
def test_app_recovers_without_restart_when_the_database_comes_back(
    build_app, pg_schema, db_log, stand_in
):
    assert TEST_DATABASE_URL
    real = urlsplit(TEST_DATABASE_URL)
    link = stand_in("hang_up", upstream=(real.hostname or "127.0.0.1", real.port or 5432))
    token = migrate_and_seed(build_app(pg_schema), 3, ["x"])
    app = build_app(at_port(pg_schema, link.port))
    waits = record_retry_waits(app)

    down, elapsed = timed_get(app, token)
    assert_failed_to_fetch(down)
    assert elapsed < 2.0
    assert retry_delays(db_log) == [100, 200, 400]

    link.switch("forward")
    up = timed_get(app, token)[0]
    assert up.status_code == 200
    assert account_ids(up) == ["x"]

    link.switch("hang_up")  # also cuts the connection the pool is holding
    assert_failed_to_fetch(timed_get(app, token)[0])
    link.switch("forward")
    again = timed_get(app, token)[0]
    assert again.status_code == 200
    assert account_ids(again) == ["x"]
    assert retry_delays(db_log) == [100, 200, 400] * 2
    assert waits == [0.1, 0.2, 0.4] * 2
