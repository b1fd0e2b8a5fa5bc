"""Refreshing tokens: one locked row at a time, and before expiry from cron (`refresh-due`).

Safe on several hosts at once: each integration is refreshed under its row lock
(SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL), and re-checked once locked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import ColumnElement, and_, or_, select, true
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
from .status import ACCESS_REVOKED, DEAD_REASONS, EXPIRED, REFRESH_FAILED, RENEWAL_INTERRUPTED
from .store import (
    apply_tokens,
    grant_of,
    locked_if,
    mark_expired,
    mark_working,
    record_event,
    remember_unanswered_renewal,
)

FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
log = logging.getLogger("webapp.refresh")
T = TypeVar("T")


@dataclass
class RefreshSummary:
    refreshed: int = 0
    failed: int = 0
    skipped: int = 0
    expired: int = 0  # expiries that passed unrenewed, recorded by this run


def refresh_row(row: Integration, client: OAuthProvider, now: datetime, *, via: str) -> bool:
    """Refresh a locked row in place; the caller commits (also after a failure: what was
    learnt is on the row). Records a dead grant as such.

    False when the token is too new for the provider to renew: the row is left as it is.
    """
    if too_new_to_renew(row, now):
        if row.expired_reason is not None:  # a dead grant with a new token: nothing renews it
            raise ReauthRequired("token_too_new", revoked=False)
        _log(row, "token is fresh: not renewed", via)
        return False
    try:
        tokens = client.refresh(grant_of(row), now)
    except ReauthRequired as dead:
        # Also a grant that ran out (Instagram's past its expiry): no refresh renews it.
        reason = _dead_reason(row, dead, via)
        mark_expired(row, reason, now, via=via, detail=dead.detail, renewable=False)
        REFRESHES.labels(row.provider, "reauth_required").inc()
        raise
    except ClientRejected as err:
        REFRESHES.labels(row.provider, "client_rejected").inc()
        report_rejected_client(row.provider, err, log)
        raise
    except ProviderUnavailable as err:
        if err.outcome_unknown:  # it may have rotated the refresh token
            remember_unanswered_renewal(row, now)
        REFRESHES.labels(row.provider, "unavailable").inc()
        raise
    except ProviderError:
        REFRESHES.labels(row.provider, "error").inc()
        raise
    REFRESHES.labels(row.provider, "refreshed").inc()
    apply_tokens(row, tokens, now)
    if mark_working(row, now):  # the platform heard it had expired: it works again
        record_event(row, events.CONNECTED, "renewed", now)
    _log(row, "token refreshed", via)
    return True


def with_fresh_token(
    row: Integration,
    client: OAuthProvider,
    now: datetime,
    call: Callable[[str], T],
    *,
    via: str,
) -> T:
    """`call` with the locked row's access token; when the provider refuses that token and the
    grant has a refresh token, refresh once and call again (TikTok's `access_token_invalid`
    and Reddit's 401 say so). Dead only if the refresh says so; the caller commits."""
    assert row.access_token is not None
    try:
        return call(row.access_token)
    except ReauthRequired:
        if not row.refresh_token:  # the access token is the whole grant (Instagram)
            raise
    refresh_row(row, client, now, via=via)
    assert row.access_token is not None
    return call(row.access_token)


def too_new_to_renew(row: Integration, now: datetime) -> bool:
    """The provider renews only tokens of a minimum age (Instagram: a day), and this one is
    younger and still valid (an expired one is for the provider to refuse)."""
    min_age = REGISTRY[row.provider].refresh_min_age
    obtained, expires = row.token_obtained_at, row.expires_at
    if min_age is None or obtained is None or (expires is not None and expires <= now):
        return False
    return now - obtained < min_age


def _dead_reason(row: Integration, dead: ReauthRequired, via: str) -> str:
    if not dead.revoked:
        return EXPIRED
    if row.renewal_unanswered_at is None:
        return ACCESS_REVOKED
    # The last renewal went out and its answer never came: the provider rotated the refresh
    # token and we never saw the new one. Nobody revoked anything; the grant is lost.
    log.error(
        "a renewal's answer was lost and the provider no longer accepts the grant",
        extra={
            "fields": {
                "provider": row.provider,
                "integrationId": row.id,
                "userId": row.user_id,
                "reason": RENEWAL_INTERRUPTED,
                "unansweredAt": row.renewal_unanswered_at.isoformat(),
                "via": via,
            }
        },
    )
    return RENEWAL_INTERRUPTED


def _log(row: Integration, message: str, via: str) -> None:
    log.info(
        message,
        extra={"fields": {"provider": row.provider, "integrationId": row.id, "via": via}},
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
        renewed = refresh_row(row, clients[row.provider], now, via="refresh_due")
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
        return "refreshed" if renewed else "skipped"
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
            _old_enough(provider, now),
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


def _old_enough(provider: str, now: datetime) -> ColumnElement[bool]:
    """Tokens the provider would renew now (too_new_to_renew, as SQL)."""
    min_age = REGISTRY[provider].refresh_min_age
    if min_age is None:
        return true()
    return or_(
        Integration.token_obtained_at.is_(None),
        Integration.token_obtained_at <= now - min_age,
        Integration.expires_at <= now,
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
