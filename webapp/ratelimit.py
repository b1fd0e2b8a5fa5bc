"""Per-user rate limits (per client IP while signed out), enforced by Flask-Limiter.

The caller is already known when the limiter asks (auth.identify_caller runs first): the key
and limit functions only read it, so they cannot fail and leave a request uncounted.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter

from .auth import caller


def _limit_value() -> str:
    name = "STATUS_RATE_LIMIT" if caller() else "ANONYMOUS_RATE_LIMIT"
    return current_app.config[name]  # type: ignore[no-any-return]


def _key() -> str:
    identity = caller()
    return f"user:{identity.user_id}" if identity else f"ip:{request.remote_addr}"


def init_app(app: Flask, limited: list[Blueprint]) -> None:
    """Limit every endpoint of the given blueprints, each endpoint with its own budget."""
    app.config["RATELIMIT_HEADERS_ENABLED"] = False  # headers(): no Retry-After on a 200
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True  # Redis down: count per worker
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    limiter = Limiter(key_func=_key, app=app)
    for blueprint in limited:
        limiter.limit(_limit_value, key_func=_key)(blueprint)
    app.extensions["rate_limiter"] = limiter


def headers() -> list[tuple[str, str]]:
    """X-RateLimit-* for a limited request, and Retry-After in seconds when it was refused."""
    limiter: Limiter | None = current_app.extensions.get("rate_limiter")
    current = limiter.current_limit if limiter else None
    if current is None:
        return []
    try:
        reset_at, remaining = current.reset_at, current.remaining
    except Exception:  # the limit storage went away after the check; the answer still stands
        current_app.logger.warning("rate limit storage unreachable while adding headers")
        return []
    found = [
        ("X-RateLimit-Limit", str(current.limit.amount)),
        ("X-RateLimit-Remaining", str(max(remaining, 0))),
        ("X-RateLimit-Reset", str(reset_at)),
    ]
    if current.breached:
        found.append(("Retry-After", str(max(1, int(reset_at - time.time())))))
    return found
