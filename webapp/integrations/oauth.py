"""Connecting an account: the OAuth 2.0 authorization code flow around the providers."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, url_for
from sqlalchemy import delete, select

from ..database import run_with_retry
from ..extensions import db
from ..models import OAuthState
from ..providers import Account, ClientRejected, ProviderError, ProviderUnavailable, TokenSet
from ..providers.clients import oauth_client, report_rejected_client

STATE_LIFETIME = timedelta(minutes=10)
log = logging.getLogger("webapp.oauth")


class ConnectFailed(Exception):
    """The flow ended without a connected account; `reason` is shown to the creator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def start(user_id: int, provider: str, redirect_uri: str, now: datetime) -> str:
    """Record a single-use state for this user and return the provider's authorization URL."""
    client = oauth_client(provider)
    state = secrets.token_urlsafe(32)

    def record() -> None:
        db.session.execute(delete(OAuthState).where(OAuthState.expires_at < now))
        db.session.add(
            OAuthState(
                state_hash=_hash(state),
                user_id=user_id,
                provider=provider,
                redirect_uri=redirect_uri,
                expires_at=now + STATE_LIFETIME,
                created_at=now,
            )
        )
        db.session.commit()

    run_with_retry(record, failure_message="Failed to start connection")
    return client.authorization_url(state, redirect_uri)


def finish(
    user_id: int, provider: str, code: str, state: str, error: str, now: datetime
) -> tuple[Account, TokenSet]:
    """Check and spend the state, then exchange the code: the account and its tokens."""
    client = oauth_client(provider)
    redirect_uri = _spend_state(user_id, provider, state, now)
    if error:
        raise ConnectFailed("access_denied" if error == "access_denied" else "provider_error")
    if not code:
        raise ConnectFailed("provider_error")
    try:
        tokens = client.exchange_code(code, redirect_uri)
        account = client.fetch_account(tokens)
    except ProviderUnavailable:
        raise ConnectFailed("provider_unavailable")
    except ClientRejected as err:  # our own settings: the operator's to fix, not the creator's
        report_rejected_client(provider, err, log)
        raise ConnectFailed("unavailable")
    except ProviderError as err:
        log.warning(
            "connect failed at the provider",
            extra={"fields": {"provider": provider, "error": str(err)}},
        )
        raise ConnectFailed("provider_error")
    return account, tokens


def _spend_state(user_id: int, provider: str, state: str, now: datetime) -> str:
    """The redirect URI of a valid state, deleted so it cannot be used twice."""
    if not state or len(state) > 128:
        raise ConnectFailed("state_invalid")

    def spend() -> str | None:
        row = db.session.execute(
            select(OAuthState).where(OAuthState.state_hash == _hash(state)).with_for_update()
        ).scalar_one_or_none()
        # Someone else's, another provider's or an expired state changes nothing.
        if row is None or row.user_id != user_id or row.provider != provider:
            db.session.rollback()
            return None
        if row.expires_at <= now:
            db.session.rollback()
            return None
        redirect_uri = row.redirect_uri
        db.session.delete(row)
        db.session.commit()
        return redirect_uri

    redirect_uri = run_with_retry(spend, failure_message="Failed to complete connection")
    if redirect_uri is None:
        raise ConnectFailed("state_invalid")
    return redirect_uri


def callback_url(provider: str) -> str:
    """Where the provider sends the creator back."""
    return _public_url("api.callback", provider=provider)


def reconnect_url(integration_id: int) -> str:
    """Where the creator reconnects an integration: its card on the integrations page."""
    return _public_url("pages.integrations_page", _anchor=f"integration-{integration_id}")


def _public_url(endpoint: str, **values: Any) -> str:
    """An absolute URL: on PUBLIC_BASE_URL when set (behind a proxy), else the request's host."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if base:
        return f"{base}{url_for(endpoint, **values)}"
    return url_for(endpoint, _external=True, **values)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
