"""Provider webhooks: no session cookie and no CSRF token, only the provider's signature.

A bad, missing or stale signature is a 401 that changes nothing. Limited per client IP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Blueprint, current_app, render_template, request, url_for
from flask.wrappers import Response

from ..errors import ApiError
from ..integrations import revocations
from ..providers import signatures
from ..timeutil import iso_z, utcnow
from .http import envelope

T = TypeVar("T")
bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")
# TikTok's `authorization.removed` reasons, as its Webhook events page numbers them.
TIKTOK_REMOVAL_REASONS = {
    0: "unknown",
    1: "user_disconnected",
    2: "account_deleted",
    3: "age_changed",
    4: "account_banned",
    5: "developer_revoked",
}


@bp.post("/tiktok")
def tiktok() -> Any:
    """TikTok's webhook: `authorization.removed` expires that account; others are ignored."""
    event = _checked(
        lambda secret: signatures.tiktok_event(
            request.get_data(), request.headers.get("TikTok-Signature", ""), secret, time.time()
        ),
        "tiktok",
    )
    removed = 0
    if event.event == "authorization.removed" and event.client_key == _client_id("tiktok"):
        reason = event.content.get("reason")
        detail = TIKTOK_REMOVAL_REASONS.get(reason, "unknown") if isinstance(reason, int) else None
        now = utcnow()
        happened = _by_second(event.create_time) if event.create_time else now
        removed = revocations.provider_removed("tiktok", event.user_openid, happened, now, detail)
    return envelope({"received": True, "expired": removed})


@bp.post("/instagram/deauthorize")
def instagram_deauthorize() -> Any:
    """Meta's deauthorize callback: the creator removed the app in Instagram's settings."""
    signed_request = _meta_request()
    removed = revocations.provider_removed(
        "instagram",
        signed_request.user_id,
        _by_second(signed_request.issued_at),
        utcnow(),
        "deauthorized",
    )
    return envelope({"received": True, "expired": removed})


@bp.post("/instagram/data-deletion")
def instagram_data_deletion() -> Any:
    """Meta's data deletion callback: delete, record, and answer as Meta requires."""
    signed_request = _meta_request()
    record = revocations.delete_on_request(
        "instagram", signed_request.user_id, signed_request.digest, utcnow()
    )
    path = url_for("webhooks.deletion_status", code=record.confirmation_code)
    return {"url": f"{_base_url()}{path}", "confirmation_code": record.confirmation_code}


@bp.get("/instagram/data-deletion/<code>")
def deletion_status(code: str) -> Any:
    """Where the person who asked can see what became of the request (HTML, or JSON)."""
    record = revocations.deletion_status(code)
    if record is None:
        raise ApiError("NOT_FOUND", "No such deletion request", 404)
    status = {
        "confirmationCode": record.confirmation_code,
        "status": record.status,
        "integrationsDeleted": record.integrations_deleted,
        "requestedAt": iso_z(record.requested_at),
        "completedAt": iso_z(record.completed_at),
    }
    if _wants_json():
        return envelope({"deletionRequest": status})
    return Response(render_template("deletion_status.html", **status), mimetype="text/html")


def _by_second(unix_seconds: int) -> datetime:
    """The end of the second a provider names: a grant given within it counts as before."""
    return datetime.fromtimestamp(unix_seconds + 1, UTC)


def _meta_request() -> signatures.MetaRequest:
    value = request.form.get("signed_request", "")
    # Which secret signs Instagram-Login callbacks is not documented: the Instagram app's, and
    # the Meta app's when it is set, are both believed.
    extra = current_app.config["META_APP_SECRET"]
    return _checked(
        lambda secret: signatures.meta_signed_request(value, secret, time.time()),
        "instagram",
        (extra,) if extra else (),
    )


def _checked(check: Callable[[str], T], provider: str, also: tuple[str, ...] = ()) -> T:
    """The provider's signed payload, checked with its client secret (and `also`'s)."""
    settings = current_app.config["PROVIDERS"].get(provider)
    if settings is None:  # this deployment does not offer the provider: nothing to receive
        raise ApiError("NOT_FOUND", "Not found", 404)
    for secret in (settings.client_secret, *also):
        try:
            return check(secret)
        except signatures.BadSignature:
            continue
        except signatures.BadPayload:
            raise ApiError("BAD_REQUEST", "The signed payload is not in the documented shape", 400)
    raise ApiError("INVALID_SIGNATURE", "Missing, invalid or expired signature", 401)


def _client_id(provider: str) -> str:
    return current_app.config["PROVIDERS"][provider].client_id  # type: ignore[no-any-return]


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"
