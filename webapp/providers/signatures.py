"""Provider callbacks we believe only when signed: TikTok's webhook signature and Meta's
signed_request, each an HMAC-SHA256 keyed with our client secret, compared in constant time,
and refused once older than MAX_AGE_S (or as far in the future), or past a signed `expires`.

TikTok: "Check the signature" (developers.tiktok.com/doc/webhooks-verification): split the
header on `,`, each element on `=`; `t` is the timestamp, `s` the signature, in any order.
Meta: the data deletion callback page's parse_signed_request (base64url, padded or not) and
its payload (`algorithm`, `issued_at`, `user_id`, `expires`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_AGE_S = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")  # Meta's samples pad before decoding: either way


class BadSignature(Exception):
    """Missing, malformed, wrong or stale: nothing in the request is to be believed."""


class BadPayload(Exception):
    """Signed by the provider, but not in the documented shape."""


@dataclass(frozen=True, slots=True)
class TikTokEvent:
    client_key: str
    event: str
    user_openid: str
    content: dict[str, Any]
    create_time: int | None  # when it happened (unix seconds); TikTok's retries keep it


@dataclass(frozen=True, slots=True)
class MetaRequest:
    user_id: str
    issued_at: int
    digest: str  # SHA-256 of the signed part: names this request, not the person


def tiktok_event(body: bytes, header: str, secret: str, now: float) -> TikTokEvent:
    """A TikTok webhook event: header `TikTok-Signature: t=<unix>,s=<hex HMAC of "t.body">`."""
    timestamp, signatures = _tiktok_header(header)
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    if not any(hmac.compare_digest(expected.hexdigest(), s.lower()) for s in signatures):
        raise BadSignature("signature does not match")
    _fresh(int(timestamp), now)
    event = _json_object(body)
    content = event.get("content", "{}")
    parsed = _json_object(content.encode()) if isinstance(content, str) else content
    if not isinstance(parsed, dict):
        raise BadPayload("content is not an object")
    return TikTokEvent(
        client_key=_text(event.get("client_key")),
        event=_text(event.get("event")),
        user_openid=_text(event.get("user_openid")),
        content=parsed,
        create_time=_unix_seconds(event.get("create_time")),
    )


def meta_signed_request(value: str, secret: str, now: float) -> MetaRequest:
    """Meta's `signed_request=<b64url signature>.<b64url payload>`, signed over the payload as
    sent; good until its `expires` when it has one, else for MAX_AGE_S after `issued_at`."""
    signature_b64, _, payload_b64 = value.partition(".")
    if not _B64URL.fullmatch(signature_b64) or not _B64URL.fullmatch(payload_b64):
        raise BadSignature("no signed_request")
    expected = hmac.new(secret.encode(), payload_b64.encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64decode(signature_b64)):
        raise BadSignature("signature does not match")
    payload = _json_object(_b64decode(payload_b64))
    if payload.get("algorithm") != "HMAC-SHA256":
        raise BadSignature("unexpected algorithm")
    issued_at = _unix_seconds(payload.get("issued_at"))
    if issued_at is None:
        raise BadSignature("no issued_at")
    if "expires" in payload:
        _unexpired(issued_at, _unix_seconds(payload["expires"]), now)
    else:
        _fresh(issued_at, now)
    user_id = payload.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, (int, str)) or not str(user_id):
        raise BadPayload("no user_id")
    digest = hashlib.sha256(payload_b64.encode("ascii")).hexdigest()
    return MetaRequest(user_id=str(user_id), issued_at=issued_at, digest=digest)


def _unix_seconds(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**40:
        return None
    return value


def _tiktok_header(header: str) -> tuple[str, list[str]]:
    """The timestamp and the signatures of a TikTok-Signature header, elements in any order."""
    timestamps, signatures = [], []
    for element in header.split(","):
        prefix, _, value = element.strip().partition("=")
        if prefix == "t" and _TIMESTAMP.fullmatch(value):
            timestamps.append(value)
        elif prefix == "s" and _HEX_SIGNATURE.fullmatch(value):
            signatures.append(value)
    if len(timestamps) != 1 or not signatures:
        raise BadSignature("no TikTok-Signature")
    return timestamps[0], signatures


def _fresh(timestamp: int, now: float) -> None:
    if not math.isfinite(now) or abs(now - timestamp) > MAX_AGE_S:
        raise BadSignature("stale timestamp")


def _unexpired(issued_at: int, expires: int | None, now: float) -> None:
    """Issued no later than MAX_AGE_S from now (clocks differ), and not yet expired."""
    if expires is None or expires < issued_at:
        raise BadSignature("malformed expires")
    if not math.isfinite(now) or issued_at - now > MAX_AGE_S or now > expires:
        raise BadSignature("expired")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadPayload("not JSON")
    if not isinstance(value, dict):
        raise BadPayload("not a JSON object")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _text(value: object) -> str:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


def _b64decode(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise BadSignature("not base64url")
