"""The platform's backends: service API keys, made by an operator and sent as a Bearer token.

A key is `cik_` and 32 random bytes (url-safe base64). Only its SHA-256 is stored, so a copy of
the database opens nothing; a key is shown once, when it is made. Use is written at most once a
minute per key, never on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..database import read, run_with_retry
from ..extensions import db
from ..models import ApiKey

KEY_PREFIX = "cik_"
SCOPES = ("integrations:read", "credentials:read", "proxy", "events:read", "users:delete")
SHOWN_CHARS = 12  # the prefix and 8 characters: enough to tell keys apart in a listing
USE_RECORDED_EVERY = timedelta(minutes=1)
KEY_CHECK_FAILED = "Failed to check the key"
_KEY = re.compile(rf"{KEY_PREFIX}[A-Za-z0-9_-]{{43}}")  # 32 bytes: 43 unpadded base64 chars
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BEARER = re.compile(r"Bearer +(\S+)", re.IGNORECASE)
_LIVE_KEY = select(
    ApiKey.id, ApiKey.name, ApiKey.key_hash, ApiKey.scopes, ApiKey.last_used_at
).where(ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None))


class KeyRefused(Exception):
    """A key cannot be made or ended as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """A platform backend calling with a live key."""

    id: int
    name: str
    scopes: frozenset[str]


def create(name: str, scopes: Iterable[str], now: datetime) -> str:
    """Make a key with these scopes and return it: the only time it is seen."""
    wanted = sorted(set(scopes))
    unknown = [scope for scope in wanted if scope not in SCOPES]
    if not _NAME.fullmatch(name):
        raise KeyRefused("a name is 1-64 letters, digits, '.', '_' or '-'")
    if unknown or not wanted:
        raise KeyRefused(f"scopes must be some of: {', '.join(SCOPES)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)

    def add() -> None:
        db.session.add(
            ApiKey(
                name=name,
                prefix=key[:SHOWN_CHARS],
                key_hash=_digest(key),
                scopes=" ".join(wanted),
                created_at=now,
            )
        )
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise KeyRefused(f"a key named {name} exists; revoke it or pick another name")

    run_with_retry(add, failure_message="Failed to store the key")
    return key


def listing() -> list[ApiKey]:
    """Every key, live and revoked, by name (never the key itself: it is not kept)."""
    keys = list(db.session.execute(select(ApiKey).order_by(ApiKey.name)).scalars())
    db.session.rollback()
    return keys


def revoke(name: str, now: datetime) -> None:
    """End a key: its next request is refused."""
    ended = db.session.execute(
        update(ApiKey)
        .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.commit()
    if ended.rowcount == 0:  # type: ignore[attr-defined]
        raise KeyRefused(f"no live key is named {name}")


def from_authorization(header: str, now: datetime) -> ServiceKey | None:
    """The live key a request's `Authorization: Bearer <key>` names, or None."""
    found = _BEARER.fullmatch(header.strip())
    if found is None or not _KEY.fullmatch(found[1]):
        return None
    digest = _digest(found[1])
    rows = read(_LIVE_KEY, {"digest": digest}, failure_message=KEY_CHECK_FAILED)
    if not rows or not hmac.compare_digest(rows[0].key_hash, digest):
        return None
    key = rows[0]
    if key.last_used_at is None or key.last_used_at <= now - USE_RECORDED_EVERY:
        _record_use(key.id, now)
    return ServiceKey(key.id, key.name, frozenset(key.scopes.split()))


def _record_use(key_id: int, now: datetime) -> None:
    """last_used_at, unless another request wrote it within the minute (at most one write)."""
    stale = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - USE_RECORDED_EVERY)
    statement = update(ApiKey).where(ApiKey.id == key_id, stale).values(last_used_at=now)

    def write() -> None:
        with db.engine.begin() as connection:
            connection.execute(statement)

    run_with_retry(write, failure_message=KEY_CHECK_FAILED)


def _digest(key: str) -> str:
    # A key carries 256 random bits: a fast hash is enough, no password stretching needed.
    return hashlib.sha256(key.encode("ascii")).hexdigest()
