"""The integrations service: every rule about a creator's connected accounts, for both views.

The JSON API and the page call these functions and nothing below them. Each one that
changes something owns its transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import events, providers
from ..database import run_with_retry
from ..errors import (
    FAILED_TO_FETCH,
    ApiError,
    not_found,
    provider_unavailable,
    reauth_required,
    unauthorized,
)
from ..extensions import db
from ..models import Integration, Notice, User
from ..providers import (
    REGISTRY,
    Account,
    ClientRejected,
    Grant,
    ProviderError,
    ProviderUnavailable,
    ReauthRequired,
)
from ..providers.clients import configured, invalid_provider, oauth_client
from . import oauth
from .fields import api_key_fields
from .refresh import refresh_row
from .status import IntegrationStatus, to_status
from .store import (
    apply_tokens,
    find,
    grant_of,
    keep_aliases,
    list_for_user,
    mark_working,
    owned,
    record_event,
)

__all__ = [
    "Connected",
    "IntegrationStatus",
    "Renewed",
    "SignIn",
    "complete_connection",
    "connect",
    "disconnect",
    "list_for_user",
    "not_found",
    "reconnect",
    "refresh_now",
    "take_notices",
]

log = logging.getLogger("webapp.integrations")


@dataclass(frozen=True, slots=True)
class Connected:
    """The account is stored: `created` unless it was already connected (same id)."""

    item: IntegrationStatus
    created: bool


@dataclass(frozen=True, slots=True)
class SignIn:
    """The creator must approve access at the provider first: send them to `url`."""

    url: str


@dataclass(frozen=True, slots=True)
class Renewed:
    """Refreshed in place; `fresh` when the token was too new to renew and was left as it is
    (Instagram renews a token only once it is a day old)."""

    item: IntegrationStatus
    fresh: bool = False


def connect(
    user_id: int, provider: str, fields: Mapping[str, Any], redirect_uri: str, now: datetime
) -> Connected | SignIn:
    """OnlyFans by API key (from `fields`); the others through the provider's OAuth flow."""
    known = REGISTRY.get(provider)
    if known is None:
        raise invalid_provider(provider)
    if known.kind == providers.API_KEY:
        account_id, account_name, api_key = api_key_fields(fields)

        def store_key(row: Integration) -> None:
            row.api_key = api_key
            row.expires_at = None  # an API key has no expiry

        return save_account(user_id, provider, Account(account_id, account_name), now, store_key)

    oauth_client(provider)  # INVALID_PROVIDER before anything else

    def room_for_one_more() -> None:  # asked before the creator leaves for the provider
        _lock_creator(user_id)
        _refuse_past_cap(user_id)

    run_with_retry(room_for_one_more, failure_message="Failed to start connection")
    return SignIn(oauth.start(user_id, provider, redirect_uri, now))


def complete_connection(
    user_id: int, provider: str, code: str, state: str, error: str, now: datetime
) -> IntegrationStatus:
    """The provider sent the creator back: finish the OAuth flow and store the account."""
    account, tokens = oauth.finish(user_id, provider, code, state, error, now)
    try:
        saved = save_account(
            user_id, provider, account, now, lambda row: apply_tokens(row, tokens, now)
        )
    except ApiError:  # not stored (the cap, the session gone): the grant must not linger
        _revoke(provider, Grant(tokens.access_token, tokens.refresh_token, None), now)
        raise
    return saved.item


def reconnect(
    user_id: int, provider: str, account_id: str, redirect_uri: str, now: datetime
) -> Renewed | SignIn:
    """Refresh first; unless the provider is only unavailable (or refuses our own client),
    a refresh that does not work sends the creator through OAuth again."""
    try:
        return _renew(user_id, provider, account_id, now)
    except ClientRejected:
        raise _client_rejected()
    except ProviderUnavailable as err:
        raise provider_unavailable(err.retry_after)
    except ProviderError:  # dead, or an answer we do not know: a new authorization helps
        pass
    return SignIn(oauth.start(user_id, provider, redirect_uri, now))


def refresh_now(user_id: int, provider: str, account_id: str, now: datetime) -> IntegrationStatus:
    """Refresh one integration with the provider's refresh grant, holding its row lock."""
    try:
        return _renew(user_id, provider, account_id, now).item
    except ReauthRequired:
        raise reauth_required()
    except ClientRejected:
        raise _client_rejected()
    except ProviderUnavailable as err:
        raise provider_unavailable(err.retry_after)
    except ProviderError:
        raise provider_unavailable(60)


def _renew(user_id: int, provider: str, account_id: str, now: datetime) -> Renewed:
    """Refresh under the row lock and commit what was learnt; provider errors propagate."""
    row = owned(
        user_id,
        provider,
        account_id,
        for_update=True,
        failure_message="Failed to refresh integration",
    )
    if REGISTRY[provider].kind == providers.API_KEY:
        db.session.rollback()
        return Renewed(to_status(row, now))  # an API key has no expiry and nothing to refresh
    try:
        renewed = refresh_row(row, oauth_client(provider), now, via="refresh")
    except ClientRejected:
        db.session.rollback()
        raise
    except ProviderError:
        db.session.commit()  # why it is dead, or that a renewal went unanswered
        raise
    db.session.commit()
    return Renewed(to_status(row, now), fresh=not renewed)


def _client_rejected() -> ApiError:
    """Our own client settings are wrong: the operator's to fix, not the creator's."""
    return ApiError("INTERNAL_ERROR", "Failed to refresh integration", 500, retry_after=60)


def disconnect(user_id: int, provider: str, account_id: str, now: datetime) -> None:
    """Revoke at the provider where possible (best effort), then delete the integration.

    The row stays locked throughout: a second disconnect of it (another tab) waits, then finds
    it gone (404) instead of revoking and recording it again.
    """
    row = owned(
        user_id,
        provider,
        account_id,
        for_update=True,
        failure_message="Failed to disconnect integration",
    )
    _revoke(provider, grant_of(row), now)
    record_event(row, events.DISCONNECTED, "creator", now)
    db.session.delete(row)
    db.session.commit()


def take_notices(user_id: int) -> list[tuple[str, str]]:
    """The creator's one-time notices (message key, provider), oldest first; now gone."""

    def take() -> list[tuple[str, str]]:
        rows = list(
            db.session.execute(
                select(Notice).where(Notice.user_id == user_id).order_by(Notice.id)
            ).scalars()
        )
        for row in rows:
            db.session.delete(row)
        db.session.commit()
        return [(row.key, row.provider) for row in rows]

    return run_with_retry(take, failure_message=FAILED_TO_FETCH)


def save_account(
    user_id: int,
    provider: str,
    account: Account,
    now: datetime,
    apply: Callable[[Integration], None],
) -> Connected:
    """Create the integration, or update the one this user already has for the account."""

    def save(first_try: bool = True) -> Connected:
        _lock_creator(user_id)
        row = find(user_id, provider, account.id, for_update=True)
        created = row is None
        if row is None:
            _refuse_past_cap(user_id)  # a reconnect (the row exists) always goes through
            row = Integration(user_id=user_id, provider=provider, account_id=account.id)
            db.session.add(row)
        row.account_name = account.name
        row.granted_at = now  # a new authorization: older removals no longer concern it
        apply(row)
        mark_working(row, now)
        try:  # a concurrent connect of the same account shows when the row is flushed
            record_event(row, events.CONNECTED, "new" if created else "reconnected", now)
            keep_aliases(row, account.aliases)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            if not first_try:
                raise
            return save(first_try=False)  # connected concurrently: now it exists, update it
        return Connected(to_status(row, now), created)

    return run_with_retry(save, failure_message="Failed to save integration")


def _revoke(provider: str, grant: Grant, now: datetime) -> None:
    """Revoke at the provider where it can (best effort: a failure is logged, not raised)."""
    client = configured().get(provider)
    if client is None:
        return
    try:
        client.revoke(grant, now)
    except ProviderError as err:
        log.warning(
            "revocation failed",
            extra={"fields": {"provider": provider, "error": type(err).__name__}},
        )


def _lock_creator(user_id: int) -> None:
    """Take the creator's row lock, so two connects at once cannot both pass the cap."""
    # Held until the connect commits: the next one of this creator counts after it. No row:
    # the session outlived its user, which NextAuth's own adapter treats as no session.
    statement = select(User.id).where(User.id == user_id).with_for_update()
    if db.session.execute(statement).scalar_one_or_none() is None:
        db.session.rollback()
        raise unauthorized()


def _refuse_past_cap(user_id: int) -> None:
    """INTEGRATION_LIMIT_REACHED once the creator has MAX_INTEGRATIONS_PER_USER integrations."""
    cap: int = current_app.config["MAX_INTEGRATIONS_PER_USER"]
    held = select(func.count()).where(Integration.user_id == user_id)
    if db.session.execute(held).scalar_one() >= cap:
        db.session.rollback()
        raise ApiError(
            "INTEGRATION_LIMIT_REACHED",
            f"At most {cap} accounts can be connected; disconnect one first",
            409,
        )
