"""The end-to-end test's world: the platform's creators, the service's database and settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import Browser
from sqlalchemy import select

from webapp import create_app
from webapp.database import dispose_engines
from webapp.extensions import db
from webapp.models import Integration, User
from webapp.timeutil import utcnow

from ...standins import ProviderStandIns
from ..app import (
    PRODUCTION_REDDIT_AGENT,
    SECRET,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    fresh_postgres_schema,
    service_env,
)

PASSWORD = "correct horse battery staple"
# The creators the platform signs in, one per test: email -> (user id, name, nickname).
CREATORS = {
    "ana@example.com": (101, "Ana Creator", "ana"),
    "bo@example.com": (102, "Bo Creator", "bo"),
    "cy@example.com": (103, "Cy Creator", "cy"),
}


@dataclass
class Service:
    """The service's settings, and its database for arranging and checking rows."""

    env: dict[str, str]
    app: Flask

    def integrations(self, email: str) -> list[Integration]:
        user_id = CREATORS[email][0]
        with self.app.app_context():
            statement = select(Integration).where(Integration.user_id == user_id)
            rows = list(db.session.execute(statement.order_by(Integration.id)).scalars())
            db.session.expunge_all()
            return rows


@dataclass
class Platform:
    """Everything on one origin, and the browser that visits it."""

    origin: str
    browser: Browser
    standins: ProviderStandIns
    service: Service


@contextmanager
def seeded_service(origin: str, standins: ProviderStandIns) -> Iterator[Service]:
    """A PostgreSQL schema with each creator's Instagram and OnlyFans accounts, and the
    service's production settings on the platform's origin with NextAuth's JWT sessions."""
    assert TEST_DATABASE_URL and TEST_REDIS_URL
    with fresh_postgres_schema("e2e") as url:
        env = service_env(
            url,
            APP_ENV="production",
            NEXTAUTH_SESSION_STRATEGY="jwt",
            NEXTAUTH_URL=origin,
            PUBLIC_BASE_URL=origin,
            TRUSTED_PROXY_COUNT="1",
            RATELIMIT_STORAGE_URI=TEST_REDIS_URL,
            REDDIT_USER_AGENT=PRODUCTION_REDDIT_AGENT,
            **standins.settings(),
        )
        app = create_app(env)
        with app.app_context():
            upgrade()
            _add_creators()
        try:
            yield Service(env, app)
        finally:
            with app.app_context():
                dispose_engines()


def _add_creators() -> None:
    for user_id, name, nickname in CREATORS.values():
        db.session.add(User(id=user_id, name=name))
        db.session.flush()
        db.session.add_all(
            [
                Integration(
                    user_id=user_id,
                    provider="instagram",
                    account_id=f"ig-{nickname}",
                    account_name=f"@{nickname}_studio",
                    access_token=f"instagram-token-{nickname}",
                    expires_at=utcnow() + timedelta(days=30),
                ),
                Integration(
                    user_id=user_id,
                    provider="onlyfans",
                    account_id=f"of-{nickname}",
                    account_name=f"{nickname}_of",
                    api_key=f"of_live_{nickname}_0123456789",
                ),
            ]
        )
    db.session.commit()


def platform_env(origin: str) -> dict[str, str]:
    """What the Next.js app reads: NextAuth's URL and secret (the service's), its creators."""
    creators = {
        email: {"id": str(user_id), "name": name, "password": PASSWORD}
        for email, (user_id, name, _) in CREATORS.items()
    }
    return {
        "NEXTAUTH_URL": origin,
        "NEXTAUTH_SECRET": SECRET,
        "PLATFORM_CREATORS": json.dumps(creators),
    }
