"""Fixtures: an app per test on a fresh database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from webapp import create_app
from webapp.database import dispose_engines
from webapp.extensions import db
from webapp.logs import JsonFormatter
from webapp.models import Integration, Session, User
from webapp.timeutil import utcnow

from .standins import ProviderStandIns
from .support.app import (
    BACKENDS,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    fresh_postgres_schema,
    running_standins,
    service_env,
)

if os.environ.get("CI") == "true" and not (TEST_DATABASE_URL and TEST_REDIS_URL):
    raise pytest.UsageError("CI needs TEST_DATABASE_URL and TEST_REDIS_URL: real services only")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture
def base_env(database_url: str) -> dict[str, str]:
    # Room for a loaded CI machine; the fault tests set their own, tighter bounds.
    return service_env(database_url, DB_CONNECT_TIMEOUT_MS="250")


@pytest.fixture
def make_app(base_env: dict[str, str]) -> Iterator[Callable[..., Flask]]:
    """Build an app with extra settings; the schema is migrated once per test database."""
    apps: list[Flask] = []

    def build(**overrides: str) -> Flask:
        app = create_app({**base_env, **overrides})
        if not apps:
            with app.app_context():
                upgrade()
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            dispose_engines()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def add_user(app: Flask) -> Callable[..., int]:
    def add(user_id: int, integrations: list[dict[str, Any]] | None = None) -> int:
        with app.app_context():
            db.session.add(User(id=user_id, name=f"User {user_id}"))
            db.session.flush()
            for fields in integrations or []:
                db.session.add(Integration(user_id=user_id, **fields))
            db.session.commit()
        return user_id

    return add


@pytest.fixture
def db_session_cookie(app: Flask) -> Callable[..., str]:
    """A NextAuth database session row for a user; returns the raw session token."""

    def make(user_id: int, expires_in: timedelta = timedelta(days=30)) -> str:
        token = str(uuid.uuid4())
        with app.app_context():
            db.session.add(
                Session(user_id=user_id, session_token=token, expires=utcnow() + expires_in)
            )
            db.session.commit()
        return token

    return make


@pytest.fixture
def logs(app: Flask) -> Iterator[list[dict[str, Any]]]:
    """The service's JSON log lines, parsed, as the formatter writes them."""
    import json

    records: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            line = JsonFormatter().format(record)
            records.append(json.loads(line) | {"_raw": line})

    handler = Collect()
    logger = logging.getLogger("webapp")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.fixture
def standins() -> Iterator[ProviderStandIns]:
    """The stand-ins of one test, speaking each provider's documented HTTP."""
    with running_standins() as running:
        yield running


@pytest.fixture
def provider_waits() -> list[float]:
    """The waits provider_app asked for (provider and database retries, verify's quota), in s."""
    return []


@pytest.fixture
def extra_settings() -> dict[str, str]:
    """More settings for provider_app: a test module overrides this fixture to add its own."""
    return {}


@pytest.fixture
def receiver():
    """The platform's events endpoint on loopback; every delivery must verify."""
    from tests.support.events import EVENTS_SECRET
    from tests.support.receiver import EventReceiver

    with EventReceiver(EVENTS_SECRET) as running:
        yield running
    assert running.unverified == [], "a delivery did not verify with the events secret"


@pytest.fixture
def provider_app(make_app, standins, provider_waits, extra_settings) -> Flask:
    """The app configured for the stand-ins, with short provider timeouts for fault tests."""
    app = make_app(
        **standins.settings(),
        PROVIDER_READ_TIMEOUT_MS="800",
        PROVIDER_CONNECT_TIMEOUT_MS="500",
        PROVIDER_RETRIES="2",
        **extra_settings,
    )
    app.extensions["sleep"] = provider_waits.append  # waits are recorded, never slept
    return app


@pytest.fixture
def signed_in_client(provider_app, add_user, db_session_cookie) -> FlaskClient:
    """A test client of provider_app, signed in as user 1 (a creator with no integrations)."""
    add_user(1)
    client = provider_app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    return client
