"""`verify`: ask each provider whether stored grants still work, for providers whose
revocations reach us by no webhook (Reddit), and as a backstop for the others.

Each integration is checked under its row lock (SKIP LOCKED, as `refresh-due` does). A token
the provider refuses is refreshed once and checked again; only a refresh the provider refuses
marks the grant dead. An unavailable provider changes nothing; one out of quota is waited for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select

from ..extensions import db
from ..models import Integration
from ..providers import (
    Budget,
    ClientRejected,
    OAuthProvider,
    ProviderError,
    ProviderUnavailable,
    ReauthRequired,
)
from ..providers.clients import configured, report_rejected_client
from .refresh import with_fresh_token
from .status import ACCESS_REVOKED
from .store import locked_if, mark_expired

# Waiting longer than this for a provider's quota to come back ends its checks for this run.
MAX_QUOTA_WAIT_S = 120.0
log = logging.getLogger("webapp.verify")


@dataclass
class VerifySummary:
    verified: int = 0
    dead: int = 0
    unavailable: int = 0


def verify_grants(
    now: datetime,
    older_than: timedelta,
    limit: int | None,
    sleep: Callable[[float], None],
) -> VerifySummary:
    """Check every working OAuth integration not verified within `older_than`."""
    clients = configured()
    summary = VerifySummary()
    exhausted: set[str] = set()  # providers whose quota is gone for longer than we wait
    statement = (
        select(Integration.id, Integration.provider)
        .where(_unverified(now, older_than, clients))
        .order_by(Integration.verified_at.is_not(None), Integration.verified_at, Integration.id)
        .limit(limit)
    )
    candidates = [(row.id, row.provider) for row in db.session.execute(statement)]
    db.session.rollback()
    budgets: dict[str, Budget] = {}  # what each provider's latest answer said is left
    for integration_id, provider in candidates:
        # Waited out before the provider's next call, so the run never ends on a wait.
        if provider in exhausted or not _wait_for_quota(budgets.pop(provider, Budget()), sleep):
            exhausted.add(provider)
            summary.unavailable += 1
            continue
        row = locked_if(integration_id, _unverified(now, older_than, clients))
        if row is None or row.access_token is None:  # checked meanwhile, or nothing to check
            db.session.rollback()
            continue
        outcome, budgets[provider] = _check(row, clients[provider], now)
        db.session.commit()
        if outcome == "rejected":  # our client settings are wrong: no further call can tell
            exhausted.add(provider)
            outcome = "unavailable"
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def _check(row: Integration, client: OAuthProvider, now: datetime) -> tuple[str, Budget]:
    def identity_call(access_token: str) -> Budget:
        try:
            return client.verify(access_token)
        except ClientRejected as err:  # a refresh reports its own refusal
            report_rejected_client(row.provider, err, log)
            raise

    try:
        budget = with_fresh_token(row, client, now, identity_call, via="verify")
    except ReauthRequired as dead:
        if row.expired_reason is None:  # else the refused refresh recorded why already
            mark_expired(row, ACCESS_REVOKED, now, via="verify", detail=dead.detail)
        return "dead", Budget()
    except ClientRejected:  # reported where it was refused
        return "rejected", Budget()
    except ProviderUnavailable as err:
        _could_not_verify(row, err)
        # Out of quota: the provider's next call waits for it (or this run stops calling it).
        quota = Budget(remaining=0, reset_seconds=err.retry_after) if err.throttled else Budget()
        return "unavailable", quota
    except ProviderError as err:  # an answer we do not know
        _could_not_verify(row, err)
        return "unavailable", Budget()
    row.verified_at = now
    return "verified", budget


def _could_not_verify(row: Integration, err: ProviderError) -> None:
    log.info(
        "could not verify",
        extra={"fields": {"provider": row.provider, "integrationId": row.id, "error": str(err)}},
    )


def _wait_for_quota(budget: Budget, sleep: Callable[[float], None]) -> bool:
    """Honour the provider's rate-limit headers: wait out an empty quota; False if too long."""
    if budget.remaining is None or budget.remaining >= 1:
        return True
    wait = budget.reset_seconds if budget.reset_seconds is not None else MAX_QUOTA_WAIT_S
    if wait > MAX_QUOTA_WAIT_S:
        return False
    sleep(max(wait, 0.0))
    return True


def _unverified(
    now: datetime, older_than: timedelta, clients: dict[str, OAuthProvider]
) -> ColumnElement[bool]:
    """Working grants of configured providers whose token has not run out, unchecked lately."""
    return and_(
        Integration.provider.in_(list(clients)),
        Integration.expired_reason.is_(None),
        or_(Integration.expires_at.is_(None), Integration.expires_at > now),
        or_(Integration.verified_at.is_(None), Integration.verified_at < now - older_than),
    )
