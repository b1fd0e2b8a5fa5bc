"""Fresh credentials for the platform's backends: refreshed on read, one refresh at a time.

A token that still has its provider's margin is read without a lock. One that does not is
renewed under the integration's row lock, taken with a wait (never SKIP LOCKED): concurrent
reads of it, on any worker or host, wait for the one refresh and then read its result, so a
rotated refresh token (TikTok) is spent once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError

from ..database import read, run_with_retry
from ..errors import ApiError, not_found, provider_unavailable, reauth_required
from ..extensions import db
from ..models import Integration
from ..providers import API_KEY, REGISTRY, OAuthProvider
from ..providers.clients import oauth_client, report_rejected_client
from ..providers.errors import ClientRejected, ProviderError, ProviderUnavailable, ReauthRequired
from .oauth import reconnect_url
from .refresh import refresh_row, too_new_to_renew
from .status import ACCESS_REVOKED, EXPIRED
from .store import grant_of, mark_expired

FORCE_EVERY = timedelta(seconds=30)  # a forced refresh at most this often per integration
LOCK_WAIT_S = 10  # how long a read waits for another one's refresh before giving up
FAILED = "Failed to read credentials"
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout ran out
# What a forced refresh came to, repeated to the next one within FORCE_EVERY.
RENEWED, CHECKED, UNAVAILABLE = "renewed", "checked", "unavailable"
_CURRENT = select(
    Integration.id,
    Integration.user_id,
    Integration.provider,
    Integration.account_id,
    Integration.access_token,
    Integration.api_key,
    Integration.expires_at,
    Integration.scope,
    Integration.expired_reason,
).where(Integration.id == bindparam("integration_id"))
log = logging.getLogger("webapp.credentials")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a backend needs to call the provider as the creator: never a refresh token."""

    integration_id: int
    user_id: int
    provider: str
    account_id: str
    token_type: str  # "bearer", or "api_key" (OnlyFans)
    access_token: str
    expires_at: datetime | None
    scopes: list[str]
    refreshed: bool  # this read renewed the token at the provider


def credentials(integration_id: int, now: datetime, *, force: bool = False) -> Credentials:
    """The integration's credentials, fresh for at least its provider's margin.

    `force` (the provider refused the token): renew now where the provider can, else check the
    grant with its identity call. REAUTH_REQUIRED when the grant is dead (marked at once, as
    every path that learns it does), PROVIDER_UNAVAILABLE when the provider failed.
    """
    rows = read(_CURRENT, {"integration_id": integration_id}, failure_message=FAILED)
    if not rows:
        raise not_found()
    current = rows[0]
    if current.expired_reason is not None:
        raise _dead(current.id, current.expired_reason)
    if REGISTRY[current.provider].kind == API_KEY:
        return _of(current, refreshed=False)  # a key has no expiry, and no provider call checks it
    if not force and _lasts(current.expires_at, current.provider, now):
        return _of(current, refreshed=False)
    return run_with_retry(lambda: _renewed(integration_id, now, force), failure_message=FAILED)


def _renewed(integration_id: int, now: datetime, force: bool) -> Credentials:
    """Under the row lock, waiting for any refresh under way: renew, unless it was meanwhile."""
    row = _locked(integration_id)
    if row is None:
        raise not_found()
    if row.expired_reason is not None:
        dead = _dead(row.id, row.expired_reason)
        db.session.rollback()
        raise dead
    if force and row.forced_at is not None and row.forced_at > now - FORCE_EVERY:
        return _repeat_forced(row)
    if not force and _lasts(row.expires_at, row.provider, now):
        meanwhile = _of(row, refreshed=False)  # renewed by the read we waited for
        db.session.rollback()
        return meanwhile
    return _renew(row, now, force)


def _renew(row: Integration, now: datetime, force: bool) -> Credentials:
    client = oauth_client(row.provider)
    try:
        if force and (too_new_to_renew(row, now) or not client.renewable(grant_of(row), now)):
            outcome = _check(row, client, now)  # the provider would not renew it now
        else:
            outcome = RENEWED if refresh_row(row, client, now, via="credentials") else CHECKED
    except ReauthRequired:
        _note_forced(row, now, force, None)
        dead = _dead(row.id, row.expired_reason or ACCESS_REVOKED)
        db.session.commit()  # it reads expired from now on, with why
        raise dead
    except ClientRejected:
        db.session.rollback()
        raise ApiError("INTERNAL_ERROR", FAILED, 500, retry_after=60)
    except ProviderError as err:
        retry_after = err.retry_after if isinstance(err, ProviderUnavailable) else 60
        # Not forced, the token still works a while: of more use to the backend than a 502.
        usable = not force and _lasts(row.expires_at, row.provider, now, margin=timedelta(0))
        kept = _of(row, refreshed=False)
        _note_forced(row, now, force, UNAVAILABLE)
        db.session.commit()
        if usable:
            return kept
        raise provider_unavailable(retry_after)
    _note_forced(row, now, force, outcome)
    renewed = _of(row, refreshed=outcome == RENEWED)
    db.session.commit()
    return renewed


def _check(row: Integration, client: OAuthProvider, now: datetime) -> str:
    """The grant cannot be renewed now: ask the provider whether it still works."""
    assert row.access_token is not None
    try:
        client.verify(row.access_token)
    except ReauthRequired as dead:
        ran_out = row.expires_at is not None and row.expires_at <= now
        reason = EXPIRED if ran_out else ACCESS_REVOKED
        mark_expired(row, reason, now, via="credentials", detail=dead.detail, renewable=False)
        raise
    except ClientRejected as err:
        report_rejected_client(row.provider, err, log)
        raise
    row.verified_at = now
    return CHECKED


def _repeat_forced(row: Integration) -> Credentials:
    """Within FORCE_EVERY of the last forced refresh: its answer again, without the provider."""
    unavailable, again = row.forced_outcome == UNAVAILABLE, _of(row, refreshed=False)
    db.session.rollback()
    if unavailable:
        raise provider_unavailable(int(FORCE_EVERY.total_seconds()))
    return again


def _note_forced(row: Integration, now: datetime, force: bool, outcome: str | None) -> None:
    if force:
        row.forced_at, row.forced_outcome = now, outcome


def _locked(integration_id: int) -> Integration | None:
    """The row, locked; waits (at most LOCK_WAIT_S) while another read refreshes it."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_S}s'"))
    statement = select(Integration).where(Integration.id == integration_id).with_for_update()
    try:
        return db.session.execute(statement).scalar_one_or_none()
    except OperationalError as err:
        if getattr(err.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        db.session.rollback()
        raise provider_unavailable(1)  # the refresh under way is slow: its result comes soon


def _lasts(
    expires_at: datetime | None, provider: str, now: datetime, margin: timedelta | None = None
) -> bool:
    """The token still has `margin` (the provider's credentials margin) of life at `now`."""
    needed = REGISTRY[provider].token_margin if margin is None else margin
    return expires_at is None or expires_at > now + needed


def _dead(integration_id: int, reason: str) -> ApiError:
    return reauth_required({"reason": reason, "reconnectUrl": reconnect_url(integration_id)})


class _Secrets(Protocol):
    """An integration row, or a row of _CURRENT: what credentials are made of."""

    id: int
    user_id: int
    provider: str
    account_id: str
    access_token: str | None
    api_key: str | None
    expires_at: datetime | None
    scope: str | None


def _of(row: _Secrets, *, refreshed: bool) -> Credentials:
    api_key = REGISTRY[row.provider].kind == API_KEY
    token = row.api_key if api_key else row.access_token
    assert token is not None, "a connected integration has its secret"
    return Credentials(
        integration_id=row.id,
        user_id=row.user_id,
        provider=row.provider,
        account_id=row.account_id,
        token_type="api_key" if api_key else "bearer",
        access_token=token,
        expires_at=row.expires_at,
        scopes=(row.scope or "").replace(",", " ").split(),
        refreshed=refreshed,
    )
