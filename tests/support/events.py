"""What the tests of the platform's events look at and do: the outbox (SQL), the CLI, the
status endpoint, and the providers' signed callbacks that change an integration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from tests.standins import ProviderStandIn
from tests.standins.instagram import InstagramStandIn
from webapp.extensions import db
from webapp.models import OutboxEvent
from webapp.timeutil import utcnow

from .processes import ROOT

EVENTS_SECRET = "whsec_" + base64.b64encode(b"the-platform-events-secret-32by!").decode()
NEXT_SECRET = "whsec_" + base64.b64encode(b"the-next-events-secret-of-32-by!").decode()
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SHORT_TIMEOUT_MS = "1000"  # the receiver's "slow" (3 s) is past it, without a 5 s wait
DELIVER = [sys.executable, "-m", "flask", "--app", "wsgi", "integrations", "deliver-events"]


def events_settings(url: str, secret: str = EVENTS_SECRET) -> dict[str, str]:
    return {"EVENTS_URL": url, "EVENTS_SECRET": secret, "EVENTS_TIMEOUT_MS": SHORT_TIMEOUT_MS}


def outbox(app: Flask) -> list[dict[str, Any]]:
    """Every outbox row in id order, read with SQL."""
    with app.app_context():
        rows = db.session.execute(select(OutboxEvent).order_by(OutboxEvent.id)).scalars()
        found = [{c.key: getattr(row, c.key) for c in OutboxEvent.__table__.c} for row in rows]
        db.session.rollback()
    return found


def bodies(app: Flask) -> list[dict[str, Any]]:
    return [json.loads(row["body"]) for row in outbox(app)]


def sql(app: Flask, statement: str, **params: Any) -> None:
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def due_now(app: Flask) -> None:
    """Every pending event is due again: the backoff's wait, without waiting."""
    sql(app, "UPDATE outbox_events SET next_attempt_at = :t", t=utcnow() - timedelta(seconds=1))


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output.strip()


def deliver(app: Flask) -> str:
    return cli(app, "integrations", "deliver-events")


def deliverer(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`deliver-events` as operators run it: a process of its own, its output in pipes."""
    return subprocess.Popen(
        [*DELIVER, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def status_items(client: FlaskClient) -> dict[int, dict[str, Any]]:
    """The creator's integrations as GET /api/integrations/status shows them, by id."""
    response = client.get("/api/integrations/status")
    assert response.status_code == 200, response.get_json()
    return {item["id"]: item for item in response.get_json()["data"]["integrations"]}


def check_event(body: dict[str, Any], type_: str, reason: str, item: dict[str, Any]) -> None:
    """The documented body, whose integration is the status endpoint's object `item`."""
    assert list(body) == ["type", "timestamp", "data"]
    assert list(body["data"]) == ["userId", "integration", "reason"]
    assert (body["type"], body["data"]["reason"]) == (type_, reason)
    assert ISO_Z.fullmatch(body["timestamp"]), body["timestamp"]
    sent = datetime.fromisoformat(body["timestamp"])
    assert abs(utcnow() - sent) < timedelta(minutes=1)
    assert body["data"]["integration"] == item


def tiktok_removed(client: FlaskClient, tiktok: ProviderStandIn, reason: int = 1) -> Any:
    """TikTok's signed `authorization.removed` webhook for the stand-in's account."""
    event = {
        "client_key": tiktok.client_id,
        "event": "authorization.removed",
        "create_time": int(time.time()),
        "user_openid": tiktok.account_id,
        "content": json.dumps({"reason": reason}),
    }
    body = json.dumps(event).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(tiktok.client_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    headers = {"TikTok-Signature": f"t={stamp},s={digest.hexdigest()}"}
    return client.post("/api/webhooks/tiktok", data=body, headers=headers)


def meta_callback(client: FlaskClient, instagram: InstagramStandIn, path: str) -> Any:
    """Meta's deauthorize or data deletion callback, a signed_request for the account."""
    signed, _ = meta_signed_request(instagram)
    return client.post(f"/api/webhooks/instagram/{path}", data={"signed_request": signed})


def meta_signed_request(instagram: InstagramStandIn) -> tuple[str, str]:
    """A signed_request naming the stand-in's account by its app-scoped id, as Meta does, and
    the SHA-256 that names the request."""
    payload = {
        "algorithm": "HMAC-SHA256",
        "issued_at": int(time.time()),
        "user_id": instagram.app_scoped_id,
    }
    encoded = _b64url(json.dumps(payload).encode())
    signature = hmac.new(instagram.client_secret.encode(), encoded.encode(), hashlib.sha256)
    digest = hashlib.sha256(encoded.encode()).hexdigest()
    return f"{_b64url(signature.digest())}.{encoded}", digest


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
