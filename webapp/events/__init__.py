"""Events for the platform when an integration needs its creator (or works again).

Each event is added to the outbox in the same transaction as the change it reports, so a
change that rolls back leaves none and a crash loses none. `deliver-events` sends them in
order per integration, signed as Standard Webhooks, retrying with backoff for three days.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from flask import current_app
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import aliased
from standardwebhooks.webhooks import Webhook

from ..extensions import db
from ..models import OutboxEvent
from ..timeutil import iso_z, utcnow

CONNECTED = "integration.connected"
EXPIRED = "integration.expired"
DISCONNECTED = "integration.disconnected"
PENDING, DELIVERED, FAILED, GONE = "pending", "delivered", "failed", "gone"
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
RETRY_FOR = timedelta(days=3)
log = logging.getLogger("webapp.events")


def record(
    user_id: int, integration: dict[str, Any], type_: str, reason: str, now: datetime
) -> None:
    """Add the event to the caller's transaction; nothing at all while EVENTS_URL is unset.

    `integration` is the contract's object of the integration, as the status endpoint shows it.
    """
    if not current_app.config["EVENTS_URL"]:
        return
    body = {
        "type": type_,
        "timestamp": iso_z(now),
        "data": {"userId": user_id, "integration": integration, "reason": reason},
    }
    db.session.add(
        OutboxEvent(
            webhook_id=f"msg_{uuid.uuid4().hex}",
            integration_id=integration["id"],
            user_id=user_id,
            type=type_,
            body=json.dumps(body, separators=(",", ":")),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


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


def deliver_pending(session: requests.Session, stopping: Callable[[], bool]) -> DeliverySummary:
    """Send every due event, oldest first, under its row lock; `stopping` is asked between two."""
    summary = DeliverySummary()
    while not stopping():
        now = utcnow()
        event = db.session.execute(_next_due(now)).scalar_one_or_none()
        if event is None:
            db.session.rollback()
            return summary
        outcome = _send(session, event, now)
        db.session.commit()
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


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


def _send(session: requests.Session, event: OutboxEvent, now: datetime) -> str:
    event.attempts += 1
    try:
        response = session.post(
            current_app.config["EVENTS_URL"],
            data=event.body.encode(),
            headers=signed_headers(event.webhook_id, now, event.body),
            timeout=current_app.config["EVENTS_TIMEOUT"],
            allow_redirects=False,  # a redirect is the receiver's misconfiguration: retried
        )
    except requests.RequestException as err:
        return _retry_later(event, now, type(err).__name__)
    if 200 <= response.status_code < 300:
        event.status, event.delivered_at, event.last_error = DELIVERED, now, None
        return "delivered"
    if response.status_code == 410:
        event.status, event.last_error = GONE, "HTTP 410"
        log.warning("the receiver refused this event for good (410)", extra=_fields(event))
        return "gone"
    return _retry_later(event, now, f"HTTP {response.status_code}")


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


def failed_events() -> list[OutboxEvent]:
    """Events that will not be sent again (undelivered for three days, or refused with 410)."""
    return _with_status(FAILED, GONE)


def pending_events() -> list[OutboxEvent]:
    return _with_status(PENDING)


def _with_status(*statuses: str) -> list[OutboxEvent]:
    statement = select(OutboxEvent).where(OutboxEvent.status.in_(statuses))
    return list(db.session.execute(statement.order_by(OutboxEvent.id)).scalars())


def outbox_counts() -> tuple[dict[tuple[str, str], int], datetime | None]:
    """Events by (type, status), and when the oldest pending one was written."""
    counts = db.session.execute(
        select(OutboxEvent.type, OutboxEvent.status, func.count()).group_by(
            OutboxEvent.type, OutboxEvent.status
        )
    ).all()
    oldest = db.session.execute(
        select(func.min(OutboxEvent.created_at)).where(OutboxEvent.status == PENDING)
    ).scalar_one()
    db.session.rollback()
    return {(type_, status): count for type_, status, count in counts}, oldest


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
