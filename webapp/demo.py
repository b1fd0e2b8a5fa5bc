"""Demo data: the demo creator's four integrations, or many users of them for load tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text

from .crypto import Ciphertext, cipher
from .extensions import db
from .models import Integration, User
from .providers import API_KEY, REGISTRY

BATCH_USERS = 5_000


def demo_integrations(user_id: int, now: datetime) -> list[dict[str, Any]]:
    """Instagram connected (60 days left), TikTok expired, Reddit connected, OnlyFans no expiry."""
    rows = [
        ("instagram", f"1784{user_id:011d}", "@creator_account", now + timedelta(days=60)),
        ("tiktok", f"7{user_id:015d}", "@tiktok_creator", now - timedelta(days=3)),
        ("reddit", f"t2_demo{user_id}", "u/reddit_creator", now + timedelta(minutes=50)),
        ("onlyfans", f"of-{user_id}", "creator_onlyfans", None),
    ]
    return [
        {
            "user_id": user_id,
            "provider": provider,
            "account_id": account_id,
            "account_name": name,
            "expires_at": expires_at,
            "access_token": None,
            "refresh_token": None,
            "api_key": None,
            "created_at": now,
            "updated_at": now,
        }
        for provider, account_id, name, expires_at in rows
    ]


def seed_demo(first_user_id: int, count: int, now: datetime) -> tuple[int, int]:
    """Create users first..first+count-1 and their demo integrations; existing rows are kept."""
    users_created = integrations_created = 0
    for batch in _batches(first_user_id, count):
        existing_users = _existing(select(User.id).where(User.id.in_(batch)))
        new_users = [u for u in batch if u not in existing_users]
        if new_users:
            db.session.execute(
                insert(User),
                [
                    {"id": u, "name": f"Demo Creator {u}", "email": f"creator{u}@example.com"}
                    for u in new_users
                ],
            )
        has_integrations = _existing(
            select(Integration.user_id).where(Integration.user_id.in_(batch)).distinct()
        )
        rows = [
            row for u in batch if u not in has_integrations for row in demo_integrations(u, now)
        ]
        if rows:
            _add_demo_secrets(rows)
            db.session.execute(insert(cast(Table, Integration.__table__)), rows)
        users_created += len(new_users)
        integrations_created += len(rows)
    _advance_user_sequence()
    db.session.commit()
    return users_created, integrations_created


def _add_demo_secrets(rows: list[dict[str, Any]]) -> None:
    # Encrypting once per provider keeps seeding 100,000 users fast; these are demo values.
    # Every row carries the same keys so the insert runs as one batched executemany.
    encrypted: dict[str, Ciphertext] = {}
    for row in rows:
        provider = row["provider"]
        if provider not in encrypted:
            encrypted[provider] = cipher().encrypt(f"demo-{provider}-secret")
        key = "api_key" if REGISTRY[provider].kind == API_KEY else "access_token"
        row[key] = encrypted[provider]


def _existing(statement: Any) -> set[int]:
    return set(db.session.execute(statement).scalars())


def _batches(first: int, count: int) -> Iterator[list[int]]:
    for start in range(first, first + count, BATCH_USERS):
        yield list(range(start, min(start + BATCH_USERS, first + count)))


def _advance_user_sequence() -> None:
    # Explicit ids do not move PostgreSQL's SERIAL sequence; NextAuth's next insert would collide.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            text("SELECT setval(pg_get_serial_sequence('users', 'id'), :top)"),
            {"top": db.session.execute(select(func.max(User.id))).scalar_one()},
        )
