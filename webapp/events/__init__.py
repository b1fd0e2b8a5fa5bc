"""Events for the platform when an integration needs its creator (or works again).

Each event is added to the outbox in the same transaction as the change it reports, so a
change that rolls back leaves none and a crash loses none. `deliver-events` sends them in
order per integration, signed as Standard Webhooks, retrying with backoff for three days
(delivery.py; sender.py makes each attempt).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import OutboxEvent
from ..timeutil import iso_z

CONNECTED = "integration.connected"
EXPIRED = "integration.expired"
DISCONNECTED = "integration.disconnected"
PENDING, DELIVERED, FAILED, GONE = "pending", "delivered", "failed", "gone"
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
RETRY_FOR = timedelta(days=3)


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
