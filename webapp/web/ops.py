"""Operator endpoints: liveness, readiness and metrics. Not rate limited; nginx serves them on
its monitoring ports only, never on the public origin (deploy/snippets/integrations-http.conf)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .. import events
from ..extensions import db
from ..metrics import exposition
from ..timeutil import utcnow

bp = Blueprint("ops", __name__)


@bp.get("/livez")
def livez() -> Any:
    """The process answers; nothing else is checked."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    """Ready when the database and the rate-limit storage answer; 503 naming what fails."""
    checks = {"database": _database(), "rateLimitStorage": _rate_limit_storage()}
    ready = all(state == "ok" for state in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = exposition(extra=[OutboxCollector()])
    return Response(body, content_type=content_type)


class OutboxCollector(Collector):
    """The platform's events as the outbox holds them: true whichever process wrote or sent
    them (web workers, cron jobs), read when scraped (events.outbox_counts, which reads the
    kept totals and the pending events, never the whole outbox). Totals only grow."""

    def collect(self) -> Iterator[Metric]:
        if not current_app.config["EVENTS_URL"]:
            return
        try:
            counts, oldest = events.outbox_counts()
        except SQLAlchemyError:
            db.session.rollback()
            return
        yield from _by_type(counts)
        age = GaugeMetricFamily(
            "integrations_events_pending_oldest_age_seconds",
            "How long the oldest undelivered event has waited (0 when none waits).",
        )
        age.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0.0)
        yield age


def _by_type(counts: dict[tuple[str, str], int]) -> Iterator[Metric]:
    emitted = CounterMetricFamily(
        "integrations_events_emitted", "Events written to the outbox.", labels=["type"]
    )
    delivered = CounterMetricFamily(
        "integrations_events_delivered", "Events the receiver accepted.", labels=["type"]
    )
    failed = CounterMetricFamily(
        "integrations_events_failed",
        "Events never delivered: three days of retries, or 410 Gone.",
        labels=["type"],
    )
    pending = GaugeMetricFamily("integrations_events_pending", "Events to send.", labels=["type"])
    for type_ in (events.CONNECTED, events.EXPIRED, events.DISCONNECTED):
        of_type = {status: n for (t, status), n in counts.items() if t == type_}
        emitted.add_metric([type_], sum(of_type.values()))
        delivered.add_metric([type_], of_type.get(events.DELIVERED, 0))
        failed.add_metric([type_], of_type.get(events.FAILED, 0) + of_type.get(events.GONE, 0))
        pending.add_metric([type_], of_type.get(events.PENDING, 0))
    yield from (emitted, delivered, failed, pending)


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        db.session.rollback()
        return "unreachable"
    return "ok"


def _rate_limit_storage() -> str:
    limiter = current_app.extensions["rate_limiter"]
    try:
        return "ok" if limiter.storage.check() else "unreachable"
    except Exception:  # any storage client error means the same thing here
        return "unreachable"
