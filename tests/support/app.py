"""What the tests' apps are built from: the test services' URLs, the secrets, the settings of
an app under test, NextAuth cookies, and the provider stand-ins."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from cryptography.fernet import Fernet
from flask.testing import FlaskClient

from webapp.identity.jwe import encode_session_token

from ..standins import ProviderStandIns, authorize_redirect

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
SECRET = "test-nextauth-secret-0123456789abcdef"
ENCRYPTION_KEY = Fernet.generate_key().decode()

# Production refuses Reddit without an agent naming the account responsible (Reddit's API rules).
PRODUCTION_REDDIT_AGENT = "web:creator-integrations:1.0 (by /u/creator_platform_ops)"

BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])
LIMIT_STORAGES = ["memory"] + (["redis"] if TEST_REDIS_URL else [])


def postgres_schema_url(schema: str) -> str:
    """TEST_DATABASE_URL with a search_path so each test sees only its own schema."""
    assert TEST_DATABASE_URL
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    return f"{TEST_DATABASE_URL}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A new PostgreSQL schema; yields a database URL that sees only it. Dropped afterwards."""
    assert TEST_DATABASE_URL
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_schema_url(schema)
    finally:
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def fresh_postgres_database(**settings: str) -> Iterator[str]:
    """A new PostgreSQL database with these server settings (ALTER DATABASE ... SET); yields its
    URL. For what PostgreSQL counts per database (pg_stat_database): no other test adds to it."""
    assert TEST_DATABASE_URL
    name = f"d_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        for setting, value in settings.items():
            conn.execute(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")
    try:
        yield urlunsplit(urlsplit(TEST_DATABASE_URL)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def service_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The settings of an app under test: test secrets, limits in memory, its own key prefix."""
    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "NEXTAUTH_SECRET": SECRET,
        "TOKEN_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_KEY_PREFIX": f"t{uuid.uuid4().hex[:12]}",
        **overrides,
    }


def jwt_cookie(sub: Any, cookie: str = "next-auth.session-token", **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + 3600, "jti": str(uuid.uuid4()), **claims}
    return encode_session_token(payload, cookie, SECRET)


@contextmanager
def running_standins() -> Iterator[ProviderStandIns]:
    """Instagram, TikTok and Reddit stand-ins on loopback; a bug in one fails the test after."""
    with ProviderStandIns() as running:
        yield running
    bugs = [error for standin in running.all for error in standin.internal_errors]
    assert bugs == [], "a stand-in answered 500 for a bug of its own:\n" + "\n".join(bugs)


def connect_via_oauth(client: FlaskClient, provider: str) -> Any:
    """Connect through the real flow: start, provider's authorize page, callback; the 303."""
    return client.get(approved_at_provider(client, provider))


def approved_at_provider(client: FlaskClient, provider: str) -> str:
    """Start connecting and approve at the provider: the callback URL the browser goes back to."""
    started = client.post(f"/api/integrations/connect/{provider}")
    assert started.status_code == 200, started.get_json()
    back = urlsplit(authorize_redirect(started.get_json()["data"]["authorizationUrl"]))
    return f"{back.path}?{back.query}"
