"""Refreshing tokens: one locked row at a time, and before expiry from cron (`refresh-due`).

Safe on several hosts at once: each integration is refreshed under its row lock
(SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL), and re-checked once locked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from .. import events
from ..extensions import db
from ..metrics import REFRESHES
from ..models import Integration
from ..providers import (
    REGISTRY,
    ClientRejected,
    OAuthProvider,
    ProviderError,
    ProviderUnavailable,
    ReauthRequired,
)
from ..providers.clients import configured, report_rejected_client
from .status import ACCESS_REVOKED, DEAD_REASONS, EXPIRED, REFRESH_FAILED
from .store import apply_tokens, grant_of, locked_if, mark_expired, mark_working, record_event

FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
log = logging.getLogger("webapp.refresh")


@dataclass
class RefreshSummary:
    refreshed: int = 0
    failed: int = 0
    skipped: int = 0
    expired: int = 0  # expiries that passed unrenewed, recorded by this run


def refresh_row(row: Integration, client: OAuthProvider, now: datetime, *, via: str) -> None:
    """Refresh a locked row in place; the caller commits. Records a dead grant as such."""
    try:
        tokens = client.refresh(grant_of(row), now)
    except ReauthRequired as dead:
        reason = ACCESS_REVOKED if dead.revoked else EXPIRED
        # Also a grant that ran out (Instagram's past its expiry): no refresh renews it.
        mark_expired(row, reason, now, via=via, detail=dead.detail, renewable=False)
        REFRESHES.labels(row.provider, "reauth_required").inc()
        raise
    except ClientRejected as err:
        REFRESHES.labels(row.provider, "client_rejected").inc()
        report_rejected_client(row.provider, err, log)
        raise
    except ProviderError as err:
        outcome = "unavailable" if isinstance(err, ProviderUnavailable) else "error"
        REFRESHES.labels(row.provider, outcome).inc()
        raise
    REFRESHES.labels(row.provider, "refreshed").inc()
    apply_tokens(row, tokens, now)
    if mark_working(row, now):  # the platform heard it had expired: it works again
        record_event(row, events.CONNECTED, "renewed", now)
    log.info(
        "token refreshed", extra={"fields": {"provider": row.provider, "integrationId": row.id}}
    )


def refresh_due(now: datetime, within: timedelta | None = None) -> RefreshSummary:
    """Refresh every integration whose token expires within its window, then record the
    expiries that passed without a renewal (each once, until the next reconnect)."""
    clients = configured()
    summary = RefreshSummary()
    rejected: set[str] = set()  # providers that refused our client: the rest would fail too
    for integration_id in _ids(_due(now, within, clients), Integration.expires_at):
        outcome = _refresh_one(integration_id, now, within, clients, rejected)
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    for integration_id in _ids(_newly_expired(now), Integration.id):
        summary.expired += _record_expiry(integration_id, now)
    return summary


def _ids(condition: ColumnElement[bool], order: InstrumentedAttribute[Any]) -> list[int]:
    ids = list(
        db.session.execute(select(Integration.id).where(condition).order_by(order)).scalars()
    )
    db.session.rollback()
    return ids


def _refresh_one(
    integration_id: int,
    now: datetime,
    within: timedelta | None,
    clients: dict[str, OAuthProvider],
    rejected: set[str],
) -> str:
    row = locked_if(integration_id, _due(now, within, clients))
    if row is None or row.provider in rejected:  # done by another run, or locked by one now
        db.session.rollback()
        return "skipped"
    try:
        refresh_row(row, clients[row.provider], now, via="refresh_due")
    except ReauthRequired:
        _log_failure(row, "reauth_required")
    except ClientRejected:
        rejected.add(row.provider)  # counts against no creator's grant
        db.session.rollback()
        return "failed"
    except ProviderError as err:
        unavailable = isinstance(err, ProviderUnavailable)
        _back_off(row, now, "provider_unavailable" if unavailable else "provider_error")
    else:
        db.session.commit()
        return "refreshed"
    db.session.commit()
    return "failed"


def _record_expiry(integration_id: int, now: datetime) -> int:
    row = locked_if(integration_id, _newly_expired(now))
    if row is None:
        db.session.rollback()
        return 0
    mark_expired(row, REFRESH_FAILED if row.refresh_failures else EXPIRED, now, via="refresh_due")
    db.session.commit()
    return 1


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
        or_(Integration.expired_reason.is_(None), Integration.expired_reason.not_in(DEAD_REASONS)),
        Integration.refresh_failures < current_app.config["REFRESH_MAX_FAILURES"],
        or_(Integration.next_refresh_at.is_(None), Integration.next_refresh_at <= now),
    )


def _newly_expired(now: datetime) -> ColumnElement[bool]:
    """Expired by time, and not yet recorded as such."""
    return and_(Integration.expires_at <= now, Integration.expired_reason.is_(None))


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
