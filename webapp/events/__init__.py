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
from sqlalchemy import Select, func, literal, select, union_all

from ..extensions import db
from ..models import OutboxEvent, OutboxTotal
from ..timeutil import iso_z

CONNECTED = "integration.connected"
EXPIRED = "integration.expired"
DISCONNECTED = "integration.disconnected"
PENDING, DELIVERED, FAILED, GONE = "pending", "delivered", "failed", "gone"
DATA_DELETION = "data_deletion"  # the reason of the DISCONNECTED event a data deletion records
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
    """Events by (type, status), and when the oldest pending one was written.

    Never a scan of the outbox: settled events are counted in outbox_totals, and only the
    pending ones are read (through their index). One statement, so one snapshot: a delivery
    meanwhile is counted once, and the totals never go down.
    """
    settled = select(OutboxTotal.type, OutboxTotal.status, OutboxTotal.total)
    pending = (
        select(OutboxEvent.type, literal(PENDING), func.count())
        .where(OutboxEvent.status == PENDING)
        .group_by(OutboxEvent.type)
    )
    counts = db.session.execute(union_all(settled, pending)).all()
    oldest = db.session.execute(
        select(func.min(OutboxEvent.created_at)).where(OutboxEvent.status == PENDING)
    ).scalar_one()
    db.session.rollback()
    return {(type_, status): count for type_, status, count in counts}, oldest


def forget_sent_account(integration_id: int) -> None:
    """A data deletion removed this integration: its events already sent (or given up) stop
    naming the account now; the others, the deletion's own among them, once that one has
    been sent (forget_account_through). With EVENTS_URL unset nothing sends them: all now."""
    of_integration = select(OutboxEvent).where(OutboxEvent.integration_id == integration_id)
    if current_app.config["EVENTS_URL"]:
        of_integration = of_integration.where(OutboxEvent.status != PENDING)
    _forget_account(of_integration)


def forget_account_through(event: OutboxEvent) -> None:
    """A data deletion's own event was sent (or given up): no event of its integration, up to
    it, names the account any more. A later id is a new integration (SQLite reuses ids)."""
    _forget_account(
        select(OutboxEvent).where(
            OutboxEvent.integration_id == event.integration_id, OutboxEvent.id <= event.id
        )
    )


def is_data_deletion(event: OutboxEvent) -> bool:
    return event.type == DISCONNECTED and json.loads(event.body)["data"]["reason"] == DATA_DELETION


def _forget_account(events: Select[OutboxEvent]) -> None:
    """The bodies keep the rest of the contract's object; its accountId and accountName are null."""
    for event in db.session.execute(events).scalars():
        body = json.loads(event.body)
        integration = body["data"]["integration"]
        if integration["accountId"] is None and integration["accountName"] is None:
            continue
        integration["accountId"] = integration["accountName"] = None
        event.body = json.dumps(body, separators=(",", ":"))
