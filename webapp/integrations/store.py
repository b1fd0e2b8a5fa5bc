"""Stored integrations: how rows are read, found and changed.

Nothing here commits: the service (integrations, oauth, refresh) owns each transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, bindparam, or_, select, update

from .. import events
from ..database import read, run_with_retry
from ..errors import FAILED_TO_FETCH, not_found
from ..extensions import db
from ..metrics import MARKED_DEAD
from ..models import AccountAlias, Integration, User
from ..providers import REGISTRY, Grant, TokenSet
from ..providers.clients import invalid_provider
from .status import DEAD_REASONS, STATUS_COLUMNS, IntegrationStatus, contract_json, to_status

log = logging.getLogger("webapp.store")
_OF_USER = (
    select(*STATUS_COLUMNS)
    .where(Integration.user_id == bindparam("user_id"))
    .order_by(Integration.id)
)


def list_for_user(user_id: int, now: datetime) -> list[IntegrationStatus]:
    """The user's integrations in a stable order (by id), with their status at `now`."""
    rows = read(_OF_USER, {"user_id": user_id}, failure_message=FAILED_TO_FETCH)
    return [to_status(row, now) for row in rows]


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
    """Every creator's integration of one provider account, locked: what a provider names, by
    the id the service shows or by any other id the provider gave for the account.

    In the one lock order of every transaction that locks both (save_account's too): the
    creators' `users` rows first, by id, then their integrations, by id. The other order
    deadlocked against a reconnect of the same account. A creator whose connect of the account
    commits between the two statements is not locked first; should that creator reconnect at
    once, PostgreSQL breaks the deadlock and run_with_retry runs the work again.
    """
    if not account_id or "\x00" in account_id:
        return []
    aliased = select(AccountAlias.integration_id).where(
        AccountAlias.provider == provider, AccountAlias.alias == account_id
    )
    of_account = (
        Integration.provider == provider,
        or_(Integration.account_id == account_id, Integration.id.in_(aliased)),
    )
    creators = select(Integration.user_id).where(*of_account)
    db.session.execute(
        select(User.id).where(User.id.in_(creators)).order_by(User.id).with_for_update()
    ).all()
    statement = select(Integration).where(*of_account).order_by(Integration.id).with_for_update()
    return list(db.session.execute(statement).scalars())


def locked_if(integration_id: int, condition: ColumnElement[bool]) -> Integration | None:
    """The row if it still meets the condition, locked; None if not, or if another run holds it
    (SKIP LOCKED: cron jobs on several hosts each take the rows no other one has)."""
    return db.session.execute(
        select(Integration)
        .where(Integration.id == integration_id, condition)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()


def keep_aliases(row: Integration, aliases: tuple[str, ...]) -> None:
    """Remember every other id the provider gave for the row's account (flushed row)."""
    if not aliases:
        return
    known = set(
        db.session.execute(
            select(AccountAlias.alias).where(AccountAlias.integration_id == row.id)
        ).scalars()
    )
    for alias in dict.fromkeys(aliases):
        if alias and alias != row.account_id and alias not in known and "\x00" not in alias:
            db.session.add(AccountAlias(integration_id=row.id, provider=row.provider, alias=alias))


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


def record_event(row: Integration, type_: str, reason: str, now: datetime) -> None:
    """The platform's event about this row, in the caller's transaction (events.record)."""
    db.session.flush()  # the row's id and updatedAt, as the status endpoint would show them
    events.record(row.user_id, contract_json(to_status(row, now)), type_, reason, now)


def grant_of(row: Integration) -> Grant:
    return Grant(row.access_token, row.refresh_token, row.expires_at, row.refresh_expires_at)


def apply_tokens(row: Integration, tokens: TokenSet, now: datetime) -> None:
    """Store what the provider returned; a refresh token is never replaced by an empty one."""
    row.access_token = tokens.access_token
    if tokens.refresh_token:
        row.refresh_token = tokens.refresh_token
    if tokens.refresh_expires_in is not None:
        row.refresh_expires_at = now + timedelta(seconds=tokens.refresh_expires_in)
    elif tokens.refresh_token:  # a new refresh token whose lifetime nobody stated
        row.refresh_expires_at = None
    if tokens.scope:
        row.scope = tokens.scope
    row.expires_at = now + timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    row.token_obtained_at = now
    row.renewal_unanswered_at = None  # this request was answered


def remember_unanswered_renewal(row: Integration, now: datetime) -> None:
    """A token request of this grant went out unanswered: the provider may have rotated it.

    Kept out of `updatedAt`: nothing the creator can see changed.
    """
    db.session.execute(
        update(Integration)
        .where(Integration.id == row.id)
        .values(renewal_unanswered_at=now, updated_at=Integration.updated_at)
        .execution_options(synchronize_session="fetch")
    )


def mark_working(row: Integration, now: datetime) -> bool:
    """The provider just confirmed the grant (connect, refresh): it reads connected again.

    True when it was known to be expired (the platform has heard so).
    """
    was_expired = row.expired_reason is not None
    row.refresh_failures = 0
    row.next_refresh_at = None
    row.last_refresh_error = None
    row.expired_reason = None
    row.expired_detail = None
    row.expired_marked_at = None
    row.verified_at = now
    return was_expired


def stop_refreshing(row: Integration) -> None:
    """Only a new authorization helps this grant: `refresh-due` leaves it for the creator."""
    row.last_refresh_error = "reauth_required"
    row.refresh_failures = current_app.config["REFRESH_MAX_FAILURES"]
    row.next_refresh_at = None


def mark_expired(
    row: Integration,
    reason: str,
    now: datetime,
    *,
    via: str,
    detail: str | None = None,
    renewable: bool = True,
) -> bool:
    """Record why the integration needs its creator; False when that was known already.

    A dead grant (DEAD_REASONS), or one no refresh can renew (`renewable` False), is never
    refreshed again. A dead grant replaces a reason that only said the expiry passed, and is
    never replaced itself until the creator reconnects.
    """
    if reason in DEAD_REASONS or not renewable:
        stop_refreshing(row)
    if row.expired_reason in DEAD_REASONS or row.expired_reason == reason:
        return False
    newly = row.expired_reason is None
    row.expired_reason = reason
    row.expired_detail = detail
    row.expired_marked_at = now
    MARKED_DEAD.labels(row.provider, reason, via).inc()
    if newly:
        record_event(row, events.EXPIRED, reason, now)
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
