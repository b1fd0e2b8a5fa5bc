"""Stored integrations: what a creator may see of one, and how rows are found and changed.

Nothing here commits: the service (integrations, oauth, refresh) owns each transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select

from .database import read, run_with_retry
from .errors import invalid_provider, not_found
from .extensions import db
from .metrics import MARKED_DEAD
from .models import Integration
from .providers import REGISTRY, Grant, TokenSet

log = logging.getLogger("webapp.store")
# Why an integration reads `expired`: its expiry passed (with failed refreshes, or none), or
# the provider said the grant is dead (answering a call, or by its own webhook).
EXPIRED = "expired"
REFRESH_FAILED = "refresh_failed"
ACCESS_REVOKED = "access_revoked"
PROVIDER_REMOVED = "provider_removed"
EXPIRED_REASONS = (EXPIRED, REFRESH_FAILED, ACCESS_REVOKED, PROVIDER_REMOVED)
DEAD_REASONS = (ACCESS_REVOKED, PROVIDER_REMOVED)  # only a new authorization helps


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
    reason: str | None  # why it is expired (EXPIRED_REASONS); None while connected
    failed_refreshes: int


def expired_because(
    expires_at: datetime | None, marked: str | None, failed_refreshes: int, now: datetime
) -> str | None:
    """Why the integration needs its creator at `now`, or None when it works."""
    if marked is not None:
        return marked
    if expires_at is not None and expires_at <= now:
        return REFRESH_FAILED if failed_refreshes else EXPIRED
    return None


def status_at(reason: str | None) -> str:
    """The contract's status: `expired` whenever there is a reason, else `connected`."""
    return "connected" if reason is None else "expired"


STATUS_COLUMNS = (
    Integration.id,
    Integration.provider,
    Integration.account_id,
    Integration.account_name,
    Integration.expires_at,
    Integration.created_at,
    Integration.updated_at,
    Integration.expired_reason,
    Integration.refresh_failures,
)
# Built once, so it is compiled once (see database.read).
_OF_USER = (
    select(*STATUS_COLUMNS)
    .where(Integration.user_id == bindparam("user_id"))
    .order_by(Integration.id)
)


def list_for_user(user_id: int, now: datetime) -> list[IntegrationStatus]:
    """The user's integrations in a stable order (by id), with their status at `now`."""
    rows = read(_OF_USER, {"user_id": user_id}, failure_message="Failed to fetch integrations")
    return [_status_of(row, now) for row in rows]


def statuses_of(rows: list[tuple[Any, ...]], now: datetime) -> list[IntegrationStatus]:
    """Rows that end with STATUS_COLUMNS (outer-joined: all None for no integration)."""
    width = len(STATUS_COLUMNS)
    return [_status_of(row[-width:], now) for row in rows if row[-width] is not None]


def to_status(row: Integration, now: datetime) -> IntegrationStatus:
    return _status_of([getattr(row, column.key) for column in STATUS_COLUMNS], now)


def _status_of(row: Any, now: datetime) -> IntegrationStatus:
    """A row of STATUS_COLUMNS, by position."""
    id_, provider, account_id, account_name, expires_at, created, updated, marked, failed = row
    reason = expired_because(expires_at, marked, failed, now)
    return IntegrationStatus(
        id=id_,
        provider=provider,
        account_id=account_id,
        account_name=account_name,
        status=status_at(reason),
        expires_at=expires_at,
        created_at=created,
        updated_at=updated,
        reason=reason,
        failed_refreshes=failed,
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


def of_provider_account(provider: str, account_id: str) -> list[Integration]:
    """Every creator's integration of one provider account, locked: what a provider names."""
    if not account_id or "\x00" in account_id:
        return []
    statement = (
        select(Integration)
        .where(Integration.provider == provider, Integration.account_id == account_id)
        .order_by(Integration.id)
        .with_for_update()
    )
    return list(db.session.execute(statement).scalars())


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


def mark_working(row: Integration, now: datetime) -> None:
    """The provider just confirmed the grant (connect, refresh): it reads connected again."""
    row.refresh_failures = 0
    row.next_refresh_at = None
    row.last_refresh_error = None
    row.expired_reason = None
    row.expired_detail = None
    row.expired_marked_at = None
    row.verified_at = now


def mark_expired(
    row: Integration, reason: str, now: datetime, *, via: str, detail: str | None = None
) -> bool:
    """Record why the integration needs its creator; False when that was known already.

    A dead grant (DEAD_REASONS) is never refreshed again; it replaces a reason that only
    said the expiry passed, and is never replaced itself until the creator reconnects.
    """
    if row.expired_reason in DEAD_REASONS or row.expired_reason == reason:
        return False
    newly = row.expired_reason is None
    row.expired_reason = reason
    row.expired_detail = detail
    row.expired_marked_at = now
    if reason in DEAD_REASONS:
        row.last_refresh_error = "reauth_required"
        row.refresh_failures = current_app.config["REFRESH_MAX_FAILURES"]
        row.next_refresh_at = None
        MARKED_DEAD.labels(row.provider, reason, via).inc()
    log.warning(
        "integration expired",
        extra={
            "fields": {
                "provider": row.provider,
                "integrationId": row.id,
                "userId": row.user_id,
                "reason": reason,
                "detail": detail,
                "via": via,
            }
        },
    )
    return newly
