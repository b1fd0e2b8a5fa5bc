"""Operator endpoints: liveness, readiness and metrics. Not rate limited; nginx serves them on
its monitoring ports only, never on the public origin (deploy/snippets/integrations-http.conf)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .metrics import exposition

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
    body, content_type = exposition()
    return Response(body, content_type=content_type)


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
