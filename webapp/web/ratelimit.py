"""Per-user rate limits (per client IP while signed out), enforced by Flask-Limiter.

The caller is already known when the limiter asks (identity.identify_caller runs first): the
key and limit functions only read it, so they cannot fail and leave a request uncounted.
Requests that match no route (404, 405) share one budget per client IP, the signed-out one.
On Redis, a limited request costs one round trip (ratelimit_storage.py).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter

from ..identity import backend, caller
from ..metrics import UNMATCHED
from .ratelimit_storage import SCHEME_PREFIX


def init_app(
    app: Flask, per_caller: list[Blueprint], per_key: list[Blueprint], per_ip: list[Blueprint]
) -> Limiter:
    """Limit every endpoint of these blueprints: each endpoint with its own budget per user (per
    IP while signed out); one budget per service key for all the backends' endpoints; or each
    endpoint per client IP alone (provider webhooks)."""
    app.config["RATELIMIT_HEADERS_ENABLED"] = False  # headers() below: no Retry-After on a 200
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True  # Redis down: count per worker
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    limiter = Limiter(
        key_func=_key,
        app=app,
        storage_uri=storage_uri(app.config["RATELIMIT_STORAGE_URI"]),
        request_identifier=_endpoint_or_unmatched,
        default_limits=[_anonymous_limit],
        default_limits_exempt_when=_matched,
    )
    for blueprint in per_caller:
        limiter.limit(_limit_value, key_func=_key)(blueprint)
    for blueprint in per_key:
        limiter.shared_limit(_backend_limit, scope="platform", key_func=_key)(blueprint)
    for blueprint in per_ip:
        limiter.limit(_webhook_limit, key_func=_ip)(blueprint)
    app.extensions["rate_limiter"] = limiter
    return limiter


def storage_uri(configured: str) -> str:
    """Redis through the storage whose count also reports the window (ratelimit_storage)."""
    if urlsplit(configured).scheme in ("redis", "rediss"):
        return SCHEME_PREFIX + configured
    return configured


def headers() -> list[tuple[str, str]]:
    """X-RateLimit-* of a limited request: its limit, what is left, when the window resets."""
    current = _limiter().current_limit
    if current is None:
        return []
    try:
        reset_at, remaining = current.reset_at, current.remaining
    except Exception:  # the limit storage went away after the check; the answer still stands
        current_app.logger.warning("rate limit storage unreachable while adding headers")
        return []
    return [
        ("X-RateLimit-Limit", str(current.limit.amount)),
        ("X-RateLimit-Remaining", str(max(remaining, 0))),
        ("X-RateLimit-Reset", str(reset_at)),
    ]


def seconds_to_reset() -> int | None:
    """A refused request's wait, in whole seconds (at least 1), until its window resets."""
    current = _limiter().current_limit
    if current is None:
        return None
    return max(1, int(current.reset_at - time.time()))


def _limiter() -> Limiter:
    return current_app.extensions["rate_limiter"]  # type: ignore[no-any-return]


def _limit_value() -> str:
    name = "STATUS_RATE_LIMIT" if caller() else "ANONYMOUS_RATE_LIMIT"
    return current_app.config[name]  # type: ignore[no-any-return]


def _anonymous_limit() -> str:
    return current_app.config["ANONYMOUS_RATE_LIMIT"]  # type: ignore[no-any-return]


def _backend_limit() -> str:
    name = "PLATFORM_RATE_LIMIT" if backend() else "ANONYMOUS_RATE_LIMIT"
    return current_app.config[name]  # type: ignore[no-any-return]


def _webhook_limit() -> str:
    return current_app.config["WEBHOOK_RATE_LIMIT"]  # type: ignore[no-any-return]


def _endpoint_or_unmatched() -> str:
    # Flask-Limiter skips a request with no endpoint; named, it falls to the default limit.
    return request.endpoint or UNMATCHED


def _matched() -> bool:
    """A request a route matched has its endpoint's own limit (or none), not the default."""
    return request.endpoint is not None


def _key() -> str:
    identity, key = caller(), backend()
    if identity:
        return f"user:{identity.user_id}"
    return f"key:{key.id}" if key else _ip()


def _ip() -> str:
    return f"ip:{request.remote_addr}"
