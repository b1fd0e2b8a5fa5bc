"""The integrations service: every rule about a creator's connected accounts lives here."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from .database import DatabaseUnavailable, read, run_with_retry
from .errors import ApiError
from .extensions import db
from .metrics import REFRESHES
from .models import Integration, Session
from .providers import (
    ALL_PROVIDERS,
    API_KEY_PROVIDERS,
    Account,
    OAuthProvider,
    ProviderError,
    ProviderUnavailable,
    ReauthRequired,
    TokenSet,
)

log = logging.getLogger("webapp.integrations")
ACCOUNT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# No control characters, lone surrogates, or bidi overrides that could disguise a name.
ACCOUNT_NAME = re.compile(
    r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff\u200e\u200f\u202a-\u202e\u2066-\u2069]{1,100}"
)
API_KEY = re.compile(r"[\x21-\x7e]{16,512}")


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


def to_status(row: Integration, now: datetime) -> IntegrationStatus:
    return _status_of([getattr(row, column.key) for column in _STATUS_COLUMNS], now)


def _status_of(row: Sequence[Any], now: datetime) -> IntegrationStatus:
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


_STATUS_COLUMNS = (
    Integration.id,
    Integration.provider,
    Integration.account_id,
    Integration.account_name,
    Integration.expires_at,
    Integration.created_at,
    Integration.updated_at,
)
# Built once: a statement with bind parameters is compiled and cached by SQLAlchemy once, and
# psycopg prepares it on each pooled connection.
_OF_USER = (
    select(*_STATUS_COLUMNS)
    .where(Integration.user_id == bindparam("user_id"))
    .order_by(Integration.id)
)
_OF_SESSION = (
    select(
        Session.id.label("session_id"), Session.user_id.label("session_user_id"), *_STATUS_COLUMNS
    )
    .select_from(Session)
    .outerjoin(Integration, Integration.user_id == Session.user_id)
    .where(Session.session_token == bindparam("token"), Session.expires > bindparam("now"))
    .order_by(Integration.id)
)


def list_for_user(user_id: int, now: datetime) -> list[IntegrationStatus]:
    """The user's integrations in a stable order (by id), with their status at `now`."""
    rows = read(_OF_USER, {"user_id": user_id}, failure_message="Failed to fetch integrations")
    return [_status_of(row, now) for row in rows]


def list_for_session(
    session_token: str, now: datetime
) -> tuple[int, list[IntegrationStatus]] | None:
    """The live NextAuth session's user id and that user's integrations; None if no session."""
    # One query for both: the database session strategy would otherwise need two round trips.
    rows = read(
        _OF_SESSION,
        {"token": session_token, "now": now},
        failure_message="Failed to fetch integrations",
    )
    if not rows:
        return None
    # As scalar_one_or_none() would: a token shared by two live sessions is an error, never a mix.
    if len({row[0] for row in rows}) > 1:
        log.error("more than one live session has this token")
        raise DatabaseUnavailable("Failed to fetch integrations")
    items = [_status_of(row[2:], now) for row in rows if row[2] is not None]
    return rows[0][1], items


def oauth_client(provider: str) -> OAuthProvider:
    """The configured client of an OAuth provider; INVALID_PROVIDER otherwise."""
    clients: dict[str, OAuthProvider] = current_app.extensions["providers"]
    if provider not in clients:
        raise invalid_provider(provider)
    return clients[provider]


def invalid_provider(provider: str) -> ApiError:
    if provider in ALL_PROVIDERS:
        return ApiError("INVALID_PROVIDER", f"{provider} is not available", 400)
    return ApiError("INVALID_PROVIDER", "Unknown provider", 400)


def save_account(
    user_id: int,
    provider: str,
    account: Account,
    now: datetime,
    apply: Callable[[Integration], None],
) -> tuple[IntegrationStatus, bool]:
    """Create the integration, or update the one this user already has for the account.

    Returns the integration and whether it was created. Reconnecting keeps the same id.
    """

    def save(first_try: bool = True) -> tuple[IntegrationStatus, bool]:
        row = _find(user_id, provider, account.id, for_update=True)
        created = row is None
        if row is None:
            row = Integration(user_id=user_id, provider=provider, account_id=account.id)
            db.session.add(row)
        row.account_name = account.name
        apply(row)
        _clear_refresh_failures(row)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            if not first_try:
                raise
            return save(first_try=False)  # connected concurrently: now it exists, update it
        return to_status(row, now), created

    return run_with_retry(save, failure_message="Failed to save integration")


def api_key_fields(body: dict[str, Any]) -> tuple[str, str, str]:
    """accountId, accountName and apiKey of an OnlyFans connection, each checked."""
    return (
        _field(body, "accountId", ACCOUNT_ID, "1-64 letters, digits, '.', '_' or '-'"),
        _field(body, "accountName", ACCOUNT_NAME, "1-100 characters, no control characters"),
        _field(body, "apiKey", API_KEY, "16-512 printable characters without spaces"),
    )


def connect_api_key(
    user_id: int, account_id: str, account_name: str, api_key: str, now: datetime
) -> tuple[IntegrationStatus, bool]:
    """Store an OnlyFans API key (encrypted); it has no expiry."""

    def apply(row: Integration) -> None:
        row.api_key = api_key
        row.expires_at = None

    return save_account(user_id, "onlyfans", Account(account_id, account_name), now, apply)


def _field(body: dict[str, Any], name: str, pattern: re.Pattern[str], rule: str) -> str:
    value = body.get(name)
    if isinstance(value, str):
        value = value.strip() if name == "accountName" else value
        if pattern.fullmatch(value):
            return value
    raise ApiError("VALIDATION_ERROR", f"{name} must be {rule}", 400, field=name)


def apply_tokens(row: Integration, tokens: TokenSet, now: datetime) -> None:
    """Store what the provider returned; a refresh token is never replaced by an empty one."""
    row.access_token = tokens.access_token
    if tokens.refresh_token:
        row.refresh_token = tokens.refresh_token
    if tokens.scope:
        row.scope = tokens.scope
    row.expires_at = now + timedelta(seconds=tokens.expires_in) if tokens.expires_in else None


def refresh_now(user_id: int, provider: str, account_id: str, now: datetime) -> IntegrationStatus:
    """Refresh one integration with the provider's refresh grant, holding its row lock."""
    row = _owned(
        user_id,
        provider,
        account_id,
        for_update=True,
        failure_message="Failed to refresh integration",
    )
    if provider in API_KEY_PROVIDERS:
        db.session.rollback()
        return to_status(row, now)  # an API key has no expiry and nothing to refresh
    try:
        refresh_row(row, oauth_client(provider), now)
    except ReauthRequired:
        db.session.commit()
        raise ApiError("REAUTH_REQUIRED", "The provider needs you to reconnect this account", 409)
    except ProviderUnavailable as err:
        db.session.rollback()
        raise provider_unavailable(err.retry_after)
    except ProviderError:
        db.session.rollback()
        raise provider_unavailable(60)
    db.session.commit()
    return to_status(row, now)


def refresh_row(row: Integration, client: OAuthProvider, now: datetime) -> None:
    """Refresh a locked row in place; the caller commits. Records a dead grant as such."""
    try:
        if row.provider == "instagram" and row.expires_at is not None and row.expires_at <= now:
            raise ReauthRequired("instagram tokens cannot be refreshed once expired")
        tokens = client.refresh(row.access_token, row.refresh_token)
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
    _clear_refresh_failures(row)
    log.info(
        "token refreshed", extra={"fields": {"provider": row.provider, "integrationId": row.id}}
    )


def mark_reauth_required(row: Integration) -> None:
    row.last_refresh_error = "reauth_required"
    row.refresh_failures = current_app.config["REFRESH_MAX_FAILURES"]
    row.next_refresh_at = None


def disconnect(user_id: int, provider: str, account_id: str) -> None:
    """Revoke at the provider where possible (best effort), then delete the integration."""
    row = _owned(
        user_id,
        provider,
        account_id,
        for_update=False,
        failure_message="Failed to disconnect integration",
    )
    client = current_app.extensions["providers"].get(provider)
    if client is not None:
        try:
            client.revoke(row.access_token, row.refresh_token)
        except ProviderError as err:
            log.warning(
                "revocation failed; deleting anyway",
                extra={"fields": {"provider": provider, "error": type(err).__name__}},
            )
    db.session.delete(row)
    db.session.commit()


def not_found() -> ApiError:
    # The same answer for another user's account and a missing one: ids are not disclosed.
    return ApiError("NOT_FOUND", "Integration not found", 404)


def provider_unavailable(retry_after: int) -> ApiError:
    return ApiError(
        "PROVIDER_UNAVAILABLE",
        "The provider is unavailable. Please try again later.",
        502,
        retry_after=retry_after,
    )


def _owned(
    user_id: int, provider: str, account_id: str, *, for_update: bool, failure_message: str
) -> Integration:
    """The user's integration for this account; INVALID_PROVIDER or NOT_FOUND otherwise."""
    if provider not in ALL_PROVIDERS:
        raise invalid_provider(provider)
    row = run_with_retry(
        lambda: _find(user_id, provider, account_id, for_update=for_update),
        failure_message=failure_message,
    )
    if row is None:
        raise not_found()
    return row


def _find(user_id: int, provider: str, account_id: str, *, for_update: bool) -> Integration | None:
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


def _clear_refresh_failures(row: Integration) -> None:
    row.refresh_failures = 0
    row.next_refresh_at = None
    row.last_refresh_error = None
