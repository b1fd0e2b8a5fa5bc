"""What providers tell us on their own: a creator removed our app, or asked for their data to
be deleted. Each change is idempotent, so a redelivered callback changes nothing more."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import events
from ..database import run_with_retry
from ..extensions import db
from ..models import DeletionRequest, Notice
from .status import PROVIDER_REMOVED
from .store import mark_expired, of_provider_account, record_event

COMPLETED = "completed"  # the account's integrations were deleted
NOTHING_HELD = "nothing_held"  # no integration of that account was here: nothing was deleted
DELETION_STATUSES = (COMPLETED, NOTHING_HELD)
REMOVED_AT_REQUEST = "removed_at_request"  # the notice the page shows once (messages.py)


def provider_removed(
    provider: str, account_id: str, happened_at: datetime, now: datetime, detail: str | None
) -> int:
    """Every integration of this provider account granted before the removal reads expired;
    how many newly did. A grant given after it (a reconnect, then a redelivered webhook) stays.
    """

    def mark() -> int:
        newly = sum(
            mark_expired(row, PROVIDER_REMOVED, now, via="webhook", detail=detail)
            for row in of_provider_account(provider, account_id)
            if row.granted_at is None or row.granted_at < happened_at
        )
        db.session.commit()
        return newly

    return run_with_retry(mark, failure_message="Failed to record the revocation")


def delete_on_request(
    provider: str, account_id: str, request_digest: str, now: datetime
) -> DeletionRequest:
    """Delete this provider account's integrations and tokens for every creator; record it,
    honestly: a request that matched nothing says nothing was held, never that it deleted.
    Their events in the outbox stop naming the account (events.forget_sent_account).

    A redelivery of the same signed request gets the first request's record back.
    """

    def delete() -> DeletionRequest:
        found = _deletion(request_digest)
        if found is not None:
            db.session.rollback()
            return found
        rows = of_provider_account(provider, account_id)
        for row in rows:
            db.session.add(Notice(user_id=row.user_id, key=REMOVED_AT_REQUEST, provider=provider))
            record_event(row, events.DISCONNECTED, events.DATA_DELETION, now)
            events.forget_sent_account(row.id)
            db.session.delete(row)
        record = DeletionRequest(
            confirmation_code=secrets.token_hex(10),
            request_hash=request_digest,
            provider=provider,
            status=COMPLETED if rows else NOTHING_HELD,
            integrations_deleted=len(rows),
            requested_at=now,
            completed_at=now,
        )
        db.session.add(record)
        try:
            db.session.commit()
        except IntegrityError:  # delivered twice at once: the other delivery recorded it
            db.session.rollback()
            again = _deletion(request_digest)
            if again is None:
                raise
            return again
        return record

    return run_with_retry(delete, failure_message="Failed to record the deletion request")


def deletion_status(confirmation_code: str) -> DeletionRequest | None:
    if not confirmation_code.isalnum() or len(confirmation_code) > 32:
        return None
    return run_with_retry(
        lambda: db.session.execute(
            select(DeletionRequest).where(DeletionRequest.confirmation_code == confirmation_code)
        ).scalar_one_or_none(),
        failure_message="Failed to fetch the deletion request",
    )


def _deletion(request_digest: str) -> DeletionRequest | None:
    return db.session.execute(
        select(DeletionRequest).where(DeletionRequest.request_hash == request_digest)
    ).scalar_one_or_none()
