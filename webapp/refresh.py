"""Refreshing tokens: one locked row at a time, and before expiry from cron (`refresh-due`).

Safe on several hosts at once: each integration is refreshed under its row lock
(SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL), and re-checked once locked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, or_, select

from .clients import configured
from .extensions import db
from .metrics import REFRESHES
from .models import Integration
from .providers import REGISTRY, OAuthProvider, ProviderError, ProviderUnavailable, ReauthRequired
from .store import apply_tokens, clear_refresh_failures, grant_of, mark_reauth_required

FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
log = logging.getLogger("webapp.refresh")


@dataclass
class RefreshSummary:
    refreshed: int = 0
    failed: int = 0
    skipped: int = 0


def refresh_row(row: Integration, client: OAuthProvider, now: datetime) -> None:
    """Refresh a locked row in place; the caller commits. Records a dead grant as such."""
    try:
        tokens = client.refresh(grant_of(row), now)
    except ReauthRequired:
        mark_reauth_required(row)
        REFRESHES.labels(row.provider, "reauth_required").inc()
        raise
    except ProviderError as err:
        outcome = "unavailable" if isinstance(err, ProviderUnavailable) else "error"
        REFRESHES.labels(row.provider, outcome).inc()
        raise
    REFRESHES.labels(row.provider, "refreshed").inc()
    apply_tokens(row, tokens, now)
    clear_refresh_failures(row)
    log.info(
        "token refreshed", extra={"fields": {"provider": row.provider, "integrationId": row.id}}
    )


def refresh_due(now: datetime, within: timedelta | None = None) -> RefreshSummary:
    """Refresh every integration whose token expires within its window."""
    clients = configured()
    summary = RefreshSummary()
    candidates = (
        db.session.execute(
            select(Integration.id)
            .where(_due(now, within, clients))
            .order_by(Integration.expires_at)
        )
        .scalars()
        .all()
    )
    db.session.rollback()
    for integration_id in candidates:
        outcome = _refresh_one(integration_id, now, within, clients)
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def _refresh_one(
    integration_id: int,
    now: datetime,
    within: timedelta | None,
    clients: dict[str, OAuthProvider],
) -> str:
    row = db.session.execute(
        select(Integration)
        .where(Integration.id == integration_id, _due(now, within, clients))
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if row is None:  # refreshed by another run, or locked by one right now
        db.session.rollback()
        return "skipped"
    try:
        refresh_row(row, clients[row.provider], now)
    except ReauthRequired:
        _log_failure(row, "reauth_required")
        db.session.commit()
        return "failed"
    except ProviderError as err:
        _back_off(
            row,
            now,
            "provider_unavailable" if isinstance(err, ProviderUnavailable) else "provider_error",
        )
        db.session.commit()
        return "failed"
    db.session.commit()
    return "refreshed"


def _due(
    now: datetime, within: timedelta | None, clients: dict[str, OAuthProvider]
) -> ColumnElement[bool]:
    windows = [
        and_(
            Integration.provider == provider,
            Integration.expires_at <= now + (within or _window(provider)),
        )
        for provider in clients
    ]
    return and_(
        Integration.expires_at.is_not(None),
        or_(*windows) if windows else Integration.id.is_(None),
        Integration.refresh_failures < current_app.config["REFRESH_MAX_FAILURES"],
        or_(Integration.next_refresh_at.is_(None), Integration.next_refresh_at <= now),
    )


def _window(provider: str) -> timedelta:
    window = REGISTRY[provider].refresh_window
    assert window is not None, f"{provider} tokens do not expire"
    return window


def _back_off(row: Integration, now: datetime, reason: str) -> None:
    """Count the failure and wait longer before the next try; give up at the maximum."""
    row.refresh_failures += 1
    row.last_refresh_error = reason
    delay = min(FIRST_BACKOFF * 2 ** (row.refresh_failures - 1), MAX_BACKOFF)
    row.next_refresh_at = now + delay
    _log_failure(row, reason)


def _log_failure(row: Integration, reason: str) -> None:
    log.warning(
        "token refresh failed",
        extra={
            "fields": {
                "provider": row.provider,
                "integrationId": row.id,
                "reason": reason,
                "failures": row.refresh_failures,
            }
        },
    )
