"""Per-user rate limits (per client IP while signed out), enforced by Flask-Limiter."""

from __future__ import annotations

import time

from flask import current_app, request
from flask.wrappers import Response

from .auth import current_user_id, is_signed_in
from .errors import ApiError
from .extensions import limiter


def _limit_value() -> str:
    name = "STATUS_RATE_LIMIT" if is_signed_in() else "ANONYMOUS_RATE_LIMIT"
    return current_app.config[name]  # type: ignore[no-any-return]


def _key() -> str:
    try:
        return f"user:{current_user_id()}"
    except ApiError:
        return f"ip:{request.remote_addr}"


# The same rule for every user-facing endpoint; each endpoint has its own bucket.
per_user = limiter.limit(_limit_value, key_func=_key)


def add_headers(response: Response) -> None:
    """X-RateLimit-* on every limited response; Retry-After in seconds when refused."""
    current = limiter.current_limit
    if current is None:
        return
    try:
        reset_at, remaining = current.reset_at, current.remaining
    except Exception:  # the limit storage went away after the check; the answer still stands
        current_app.logger.warning("rate limit storage unreachable while adding headers")
        return
    response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(max(remaining, 0))
    response.headers["X-RateLimit-Reset"] = str(reset_at)
    if current.breached:
        response.headers["Retry-After"] = str(max(1, int(reset_at - time.time())))
