"""`flask db upgrade` builds the schema and leaves NextAuth's own tables alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from webapp import create_app
from webapp.database import dispose_engines
from webapp.extensions import db
from webapp.timeutil import utcnow

from ..support.app import (
    SECRET,
    TEST_DATABASE_URL,
    fresh_postgres_schema,
    service_env,
)

ROOT = Path(__file__).resolve().parents[2]


def unmigrated_app(database_url: str):
    return create_app(service_env(database_url))


def columns(inspector, table: str) -> list[tuple[str, str, bool]]:
    return [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)]


def test_upgrade_creates_nextauth_tables_in_the_adapter_layout(database_url):
    app = unmigrated_app(database_url)
    with app.app_context():
        upgrade()
        inspector = inspect(db.engine)
        assert {c["name"] for c in inspector.get_columns("users")} == {
            "id",
            "name",
            "email",
            "emailVerified",
            "image",
        }
        assert {c["name"] for c in inspector.get_columns("sessions")} == {
            "id",
            "userId",
            "expires",
            "sessionToken",
        }
        assert "integrations" in inspector.get_table_names()
        dispose_engines()


def test_upgrade_never_alters_existing_nextauth_tables(database_url):
    app = unmigrated_app(database_url)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(255), "
                    'email VARCHAR(255), "emailVerified" TIMESTAMP, image TEXT, '
                    "plan VARCHAR(20))"
                )
            )
            conn.execute(
                text(
                    'CREATE TABLE sessions (id INTEGER PRIMARY KEY, "userId" INTEGER NOT NULL, '
                    'expires TIMESTAMP NOT NULL, "sessionToken" VARCHAR(255) NOT NULL)'
                )
            )
            conn.execute(text("INSERT INTO users (id, name, plan) VALUES (5, 'Kept', 'pro')"))
        before = {t: columns(inspect(db.engine), t) for t in ("users", "sessions")}
        indexes_before = inspect(db.engine).get_indexes("sessions")

        upgrade()

        inspector = inspect(db.engine)
        assert {t: columns(inspector, t) for t in ("users", "sessions")} == before
        assert inspector.get_indexes("sessions") == indexes_before
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT name, plan FROM users")).all() == [("Kept", "pro")]
        downgrade(revision="base")
        assert {"users", "sessions"} <= set(inspect(db.engine).get_table_names())
        assert "integrations" not in inspect(db.engine).get_table_names()
        dispose_engines()


def test_upgrade_counts_the_events_already_settled_for_metrics(database_url):
    app = unmigrated_app(database_url)
    written = [
        ("integration.connected", "delivered"),
        ("integration.connected", "delivered"),
        ("integration.connected", "pending"),
        ("integration.expired", "failed"),
        ("integration.expired", "gone"),
    ]
    with app.app_context():
        upgrade(revision="0005")  # the outbox before its totals
        with db.engine.begin() as conn:
            for n, (type_, status) in enumerate(written):
                conn.execute(
                    text(
                        "INSERT INTO outbox_events (webhook_id, integration_id, user_id, type, "
                        "body, status, attempts, next_attempt_at, created_at) VALUES "
                        "(:id, 1, 1, :type, '{}', :status, 1, :now, :now)"
                    ),
                    {"id": f"msg_{n}", "type": type_, "status": status, "now": utcnow()},
                )
        upgrade()
        with db.engine.connect() as conn:
            totals = conn.execute(text("SELECT type, status, total FROM outbox_totals")).all()
        downgrade(revision="0005")
        assert "outbox_totals" not in inspect(db.engine).get_table_names()
        dispose_engines()

    assert sorted(totals) == [
        ("integration.connected", "delivered", 2),
        ("integration.expired", "failed", 1),
        ("integration.expired", "gone", 1),
    ]


def test_deleting_a_user_deletes_their_integrations(app, add_user):
    add_user(1, [{"provider": "reddit", "account_id": "r", "account_name": "u/r"}])
    with app.app_context():
        db.session.execute(text("DELETE FROM users WHERE id = 1"))
        db.session.commit()
        assert db.session.execute(text("SELECT count(*) FROM integrations")).scalar() == 0


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_flask_db_upgrade_command_on_postgresql():
    with fresh_postgres_schema() as url:
        env = {
            **os.environ,
            "APP_ENV": "production",
            "PUBLIC_BASE_URL": "https://integrations.example.com",
            "NEXTAUTH_SECRET": SECRET,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": url,
        }
        for command in (["db", "upgrade"], ["seed-demo", "--user-id", "3"]):
            result = subprocess.run(
                [sys.executable, "-m", "flask", "--app", "wsgi", *command],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT provider FROM integrations WHERE user_id = 3 ORDER BY id"
            ).fetchall()
        assert [r[0] for r in rows] == ["instagram", "tiktok", "reddit", "onlyfans"]


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_timestamps_come_back_in_utc_whatever_time_zone_the_url_asks_for():
    from datetime import UTC, datetime

    from sqlalchemy import select

    from webapp.database import read
    from webapp.models import Integration, User

    moment = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)  # 4 Nov in Tokyo
    with fresh_postgres_schema() as url:
        app = create_app(service_env(f"{url}%20-cTimeZone%3DAsia%2FTokyo"))
        with app.app_context():
            upgrade()
            db.session.add(User(id=1, name="Creator"))
            db.session.flush()
            db.session.add(
                Integration(
                    user_id=1,
                    provider="reddit",
                    account_id="r",
                    account_name="u/r",
                    expires_at=moment,
                )
            )
            db.session.commit()
            db.session.expunge_all()
            [(read_back,)] = read(select(Integration.expires_at), {}, failure_message="failed")
            loaded = db.session.scalars(select(Integration)).one().expires_at
            zone = db.session.execute(text("SHOW TimeZone")).scalar()
            db.session.close()
            dispose_engines()

    assert zone == "Asia/Tokyo"  # the URL's own setting is kept; the column type converts
    assert (read_back, loaded) == (moment, moment)
    assert read_back.tzinfo is UTC and loaded.tzinfo is UTC
    assert read_back.isoformat() == "2026-11-03T23:30:00+00:00"
