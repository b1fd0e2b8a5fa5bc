"""What the tests of dead grants look at: the contract's status, the stored row (SQL), metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from webapp.extensions import db
from webapp.timeutil import utcnow

# The contract's integration object, in its order: nothing may be added to it.
CONTRACT_KEYS = [
    "id",
    "provider",
    "accountId",
    "accountName",
    "status",
    "expiresAt",
    "createdAt",
    "updatedAt",
]
CLIENT_REJECTED = "integrations_provider_client_rejected_total"
HEALTH_COLUMNS = (
    "id, user_id, provider, account_id, expired_reason, expired_detail, expired_marked_at, "
    "refresh_failures, last_refresh_error, next_refresh_at, verified_at, expires_at, "
    "token_obtained_at, refresh_expires_at, renewal_unanswered_at"
)


def refresh(client: FlaskClient, provider: str, account_id: str) -> Any:
    """POST /api/integrations/refresh/<provider>/<accountId>."""
    return client.post(f"/api/integrations/refresh/{provider}/{account_id}")


def run_refresh_due(app: Flask, *args: str) -> str:
    """`flask integrations refresh-due`, its one line of output."""
    result = app.test_cli_runner().invoke(args=["integrations", "refresh-due", *args])
    assert result.exit_code == 0, result.output
    return str(result.output).strip()


def integrations(client: FlaskClient) -> list[dict[str, Any]]:
    """GET /api/integrations/status, checked to be the contract's shape and nothing more."""
    response = client.get("/api/integrations/status")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert list(body) == ["success", "data", "duration"] and list(body["data"]) == ["integrations"]
    items: list[dict[str, Any]] = body["data"]["integrations"]
    for item in items:
        assert list(item) == CONTRACT_KEYS, item
    return items


def status_of(client: FlaskClient, provider: str) -> dict[str, Any]:
    """The creator's one integration of `provider`, as the contract shows it."""
    [item] = [item for item in integrations(client) if item["provider"] == provider]
    return item


def moment(value: Any) -> Any:
    """A timestamp read with plain SQL as an aware UTC datetime (SQLite hands back text)."""
    if not isinstance(value, str):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stored(app: Flask, provider: str, user_id: int = 1) -> dict[str, Any]:
    """The health columns of a user's integration of `provider`, read with plain SQL."""
    with app.app_context():
        row = db.session.execute(
            text(f"SELECT {HEALTH_COLUMNS} FROM integrations WHERE provider = :p AND user_id = :u"),
            {"p": provider, "u": user_id},
        ).one()
        db.session.rollback()
    return dict(row._mapping)


def every_row(app: Flask, table: str) -> list[tuple[Any, ...]]:
    """A whole table in id order, secrets as stored: what "nothing changed" compares."""
    with app.app_context():
        rows = [tuple(r) for r in db.session.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
        db.session.rollback()
    return rows


def every_row_except(app: Flask, table: str, *left_out: str) -> list[dict[str, Any]]:
    """A whole table in id order, as every_row, with the named columns left out."""
    with app.app_context():
        rows = db.session.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings().all()
        db.session.rollback()
    return [{k: v for k, v in row.items() if k not in left_out} for row in rows]


def set_ago(app: Flask, provider: str, column: str, ago: timedelta) -> None:
    """Set a timestamp column of every `provider` integration to `ago` before now."""
    with app.app_context():
        db.session.execute(
            text(f"UPDATE integrations SET {column} = :at WHERE provider = :provider"),
            {"at": utcnow() - ago, "provider": provider},
        )
        db.session.commit()


def a_day_old(app: Flask, standins: Any, provider: str = "instagram") -> None:
    """Age the stored token and the provider's clock by a day: Instagram renews only tokens at
    least 24 hours old."""
    set_ago(app, provider, "token_obtained_at", timedelta(hours=25))
    standins[provider].advance(25 * 3600)


def metric(client: FlaskClient, name: str, **labels: str) -> float:
    """One series of GET /metrics (labels in the metric's own order); 0 when absent."""
    pairs = ",".join(f'{key}="{value}"' for key, value in labels.items())
    series = f"{name}{{{pairs}}}" if labels else name
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def marked_dead(client: FlaskClient, provider: str, reason: str, via: str) -> float:
    return metric(
        client, "integrations_marked_dead_total", provider=provider, reason=reason, via=via
    )
