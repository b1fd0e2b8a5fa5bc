"""How the providers sign their webhooks, written from their documentation (never from
webapp/providers/signatures.py, which these requests test), and how they post them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from .grants import every_row

PUBLIC = "https://integrations.example.com"  # the service's PUBLIC_BASE_URL in these tests
# What a callback may change: "nothing changed" compares these tables, row by row.
STATE_TABLES = ("integrations", "deletion_requests", "notices", "account_aliases")
TIKTOK = "/api/webhooks/tiktok"
DEAUTHORIZE = "/api/webhooks/instagram/deauthorize"
DELETION = "/api/webhooks/instagram/data-deletion"


def tiktok_body(standins, *, event: str = "authorization.removed", **fields: Any) -> bytes:
    return json.dumps(
        {
            "client_key": standins.tiktok.client_id,
            "event": event,
            "create_time": int(time.time()),
            "user_openid": standins.tiktok.account_id,
            "content": json.dumps({"reason": 1}),
            **fields,
        }
    ).encode()


def tiktok_signature(body: bytes, secret: str, at: float | None = None) -> str:
    stamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},s={digest}"


def post_tiktok(client: FlaskClient, body: bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {"TikTok-Signature": signature}
    return client.post(TIKTOK, data=body, headers=headers, content_type="application/json")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def meta_payload(user_id: str, issued_at: float | None = None, **fields: Any) -> str:
    issued = int(time.time() if issued_at is None else issued_at)
    payload = {"algorithm": "HMAC-SHA256", "issued_at": issued, "user_id": user_id, **fields}
    return b64url(json.dumps(payload).encode())


def meta_signed_request(payload: str, secret: str) -> str:
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{b64url(signature)}.{payload}"


def post_meta(client: FlaskClient, path: str, signed_request: str | None) -> Any:
    form = {} if signed_request is None else {"signed_request": signed_request}
    return client.post(path, data=form)


def signed_for_instagram(standins, user_id: str | None = None, **fields: Any) -> str:
    """Meta's signed_request for the stand-in's account, naming it as Meta's data deletion
    callback page says it does: by its app-scoped id (/me's `id`) unless told otherwise."""
    ig = standins.instagram
    payload = meta_payload(user_id or ig.app_scoped_id, **fields)
    return meta_signed_request(payload, ig.client_secret)


def state(app: Flask) -> list[list[tuple[Any, ...]]]:
    """Every table a callback may change, as stored."""
    return [every_row(app, table) for table in STATE_TABLES]
