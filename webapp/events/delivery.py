"""`deliver-events`: the outbox's due events sent in order per integration, each attempt
bounded by EVENTS_TIMEOUT_MS (sender.py), retried with backoff for three days."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import Select, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased
from standardwebhooks.webhooks import Webhook

from ..database import is_transient, sqlstate_of
from ..extensions import db
from ..models import OutboxEvent, OutboxTotal
from ..timeutil import utcnow
from . import (
    DELIVERED,
    FAILED,
    FIRST_RETRY,
    GONE,
    MAX_RETRY,
    PENDING,
    RETRY_FOR,
    forget_account_through,
    is_data_deletion,
    sender,
)

MAX_PAUSE_S = 60.0  # between rounds of `--follow` while the database fails
_ONE_MORE = {"total": OutboxTotal.total + 1}
log = logging.getLogger("webapp.events")


@dataclass
class DeliverySummary:
    delivered: int = 0
    retried: int = 0
    failed: int = 0  # undelivered for RETRY_FOR: kept, listed by `events --failed`
    gone: int = 0  # the receiver answered 410 Gone: not sent again

    def __str__(self) -> str:
        return (
            f"delivered={self.delivered} retried={self.retried} "
            f"failed={self.failed} gone={self.gone}"
        )

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def deliver_pending(stopping: Callable[[], bool], summary: DeliverySummary) -> None:
    """Send every due event, oldest first, under its row lock, each outcome added to `summary`
    once committed; `stopping` is asked between two.

    The lock's transaction stays open across the attempt, which sender.post ends within
    EVENTS_TIMEOUT_MS whatever the receiver does: no lock outlives that bound.
    """
    while not stopping():
        now = utcnow()
        event = db.session.execute(_next_due(now)).scalar_one_or_none()
        if event is None:
            db.session.rollback()
            return
        outcome = _send(event, now)
        if event.status != PENDING:
            _settle(event)
        db.session.commit()
        summary.add(outcome)


def follow(
    stopping: threading.Event, interval: float, report: Callable[[DeliverySummary], None]
) -> None:
    """Deliver as events arrive, every `interval` seconds, until `stopping` is set.

    A database failing for a transient reason (database.is_transient) pauses delivery, with
    one log line per failed round and longer pauses each time, instead of ending it.
    """
    failures = 0
    while not stopping.is_set():
        summary = DeliverySummary()
        failed = _round(stopping, summary)
        if summary != DeliverySummary():  # idle rounds say nothing
            report(summary)
        failures = failures + 1 if failed else 0
        pause = min(interval * 2**failures, MAX_PAUSE_S) if failed else interval
        if failed:
            fields = {"error": type(failed).__name__, "sqlstate": sqlstate_of(failed)}
            log.warning(
                "database unavailable, delivery paused",
                extra={"fields": {**fields, "retryInS": pause}},
            )
        stopping.wait(pause)


def _round(stopping: threading.Event, summary: DeliverySummary) -> SQLAlchemyError | None:
    """One round of deliver_pending; the transient database error that ended it, if one did."""
    try:
        deliver_pending(stopping.is_set, summary)
    except SQLAlchemyError as err:
        db.session.close()  # its connection may be gone: the next round starts afresh
        if not is_transient(err):
            raise
        return err
    return None


def _next_due(now: datetime) -> Select[OutboxEvent]:
    """The oldest due event whose integration has no earlier event still pending, locked.

    SKIP LOCKED lets several deliverers run at once: an event being sent is skipped, and so
    are that integration's later events, which wait for it (in order per integration).
    """
    earlier = aliased(OutboxEvent)
    return (
        select(OutboxEvent)
        .where(
            OutboxEvent.status == PENDING,
            OutboxEvent.next_attempt_at <= now,
            ~exists().where(
                earlier.integration_id == OutboxEvent.integration_id,
                earlier.status == PENDING,
                earlier.id < OutboxEvent.id,
            ),
        )
        .order_by(OutboxEvent.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _send(event: OutboxEvent, now: datetime) -> str:
    event.attempts += 1
    try:
        status = sender.post(  # a redirect is not followed: the receiver's mistake, retried
            current_app.config["EVENTS_URL"],
            event.body.encode(),
            signed_headers(event.webhook_id, now, event.body),
            timeout=current_app.config["EVENTS_TIMEOUT"],
        )
    except sender.DeliveryFailed as failed:
        return _retry_later(event, now, failed.reason)
    if 200 <= status < 300:
        event.status, event.delivered_at, event.last_error = DELIVERED, now, None
        return "delivered"
    if status == 410:
        event.status, event.last_error = GONE, "HTTP 410"
        log.warning("the receiver refused this event for good (410)", extra=_fields(event))
        return "gone"
    return _retry_later(event, now, f"HTTP {status}")


def _settle(event: OutboxEvent) -> None:
    """The event will not be sent again: counted for /metrics (outbox_totals); and after a
    data deletion's own event, no event of that integration names the account any more."""
    # One upsert, INSERT ... ON CONFLICT DO UPDATE, which SQLAlchemy builds per dialect.
    insert = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    counted = insert(OutboxTotal).values(type=event.type, status=event.status, total=1)
    db.session.execute(
        counted.on_conflict_do_update(index_elements=["type", "status"], set_=_ONE_MORE)
    )
    if is_data_deletion(event):
        forget_account_through(event)


def _retry_later(event: OutboxEvent, now: datetime, error: str) -> str:
    event.last_error = error
    if now - event.created_at >= RETRY_FOR:
        event.status = FAILED
        log.error("event undelivered after three days", extra=_fields(event))
        return "failed"
    event.next_attempt_at = now + min(FIRST_RETRY * 2 ** (event.attempts - 1), MAX_RETRY)
    log.info("event delivery failed, will retry", extra=_fields(event))
    return "retried"


def signed_headers(webhook_id: str, now: datetime, body: str) -> dict[str, str]:
    """Standard Webhooks headers, signed by every EVENTS_SECRET (several while rotating)."""
    signatures = [Webhook(secret).sign(webhook_id, now, body) for secret in _secrets()]
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def _secrets() -> tuple[str, ...]:
    return current_app.config["EVENTS_SECRETS"]  # type: ignore[no-any-return]


def _fields(event: OutboxEvent) -> dict[str, dict[str, object]]:
    return {
        "fields": {
            "webhookId": event.webhook_id,
            "type": event.type,
            "integrationId": event.integration_id,
            "attempts": event.attempts,
            "error": event.last_error,
        }
    }
