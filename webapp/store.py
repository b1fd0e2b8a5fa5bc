"""Stored integrations: what a creator may see of one, and how rows are found and changed.

Nothing here commits: the service (integrations, oauth, refresh) owns each transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select

from .database import read, run_with_retry
from .errors import invalid_provider, not_found
from .extensions import db
from .models import Integration
from .providers import REGISTRY, Grant, TokenSet


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    """What a creator may see of an integration: no secrets."""

    id: int
    provider: str
    account_id: str
    account_name: str
    status: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


def status_at(expires_at: datetime | None, now: datetime) -> str:
    """`expired` once the expiry has passed; no expiry means connected."""
    return "expired" if expires_at is not None and expires_at <= now else "connected"


_STATUS_COLUMNS = (
    Integration.id,
    Integration.provider,
    Integration.account_id,
    Integration.account_name,
    Integration.expires_at,
    Integration.created_at,
    Integration.updated_at,
)
# Built once, so it is compiled once (see database.read).
_OF_USER = (
    select(*_STATUS_COLUMNS)
    .where(Integration.user_id == bindparam("user_id"))
    .order_by(Integration.id)
)


def list_for_user(user_id: int, now: datetime) -> list[IntegrationStatus]:
    """The user's integrations in a stable order (by id), with their status at `now`."""
    rows = read(_OF_USER, {"user_id": user_id}, failure_message="Failed to fetch integrations")
    return [_status_of(row, now) for row in rows]


def to_status(row: Integration, now: datetime) -> IntegrationStatus:
    return _status_of([getattr(row, column.key) for column in _STATUS_COLUMNS], now)


def _status_of(row: Any, now: datetime) -> IntegrationStatus:
    """A row of _STATUS_COLUMNS, by position."""
    id_, provider, account_id, account_name, expires_at, created_at, updated_at = row
    return IntegrationStatus(
        id=id_,
        provider=provider,
        account_id=account_id,
        account_name=account_name,
        status=status_at(expires_at, now),
        expires_at=expires_at,
        created_at=created_at,
        updated_at=updated_at,
    )


def find(user_id: int, provider: str, account_id: str, *, for_update: bool) -> Integration | None:
    if "\x00" in account_id:  # PostgreSQL refuses NUL in text, so no stored id has one
        return None
    statement = select(Integration).where(
        Integration.user_id == user_id,
        Integration.provider == provider,
        Integration.account_id == account_id,
    )
    if for_update:
        statement = statement.with_for_update()
    return db.session.execute(statement).scalar_one_or_none()


def owned(
    user_id: int, provider: str, account_id: str, *, for_update: bool, failure_message: str
) -> Integration:
    """The user's integration for this account; INVALID_PROVIDER or NOT_FOUND otherwise."""
    if provider not in REGISTRY:
        raise invalid_provider(provider)
    row = run_with_retry(
        lambda: find(user_id, provider, account_id, for_update=for_update),
        failure_message=failure_message,
    )
    if row is None:
        raise not_found()
    return row


def grant_of(row: Integration) -> Grant:
    return Grant(row.access_token, row.refresh_token, row.expires_at)


def apply_tokens(row: Integration, tokens: TokenSet, now: datetime) -> None:
    """Store what the provider returned; a refresh token is never replaced by an empty one."""
    row.access_token = tokens.access_token
    if tokens.refresh_token:
        row.refresh_token = tokens.refresh_token
    if tokens.scope:
        row.scope = tokens.scope
    row.expires_at = now + timedelta(seconds=tokens.expires_in) if tokens.expires_in else None


def clear_refresh_failures(row: Integration) -> None:
    row.refresh_failures = 0
    row.next_refresh_at = None
    row.last_refresh_error = None


def mark_reauth_required(row: Integration) -> None:
    row.last_refresh_error = "reauth_required"
    row.refresh_failures = current_app.config["REFRESH_MAX_FAILURES"]
    row.next_refresh_at = None
