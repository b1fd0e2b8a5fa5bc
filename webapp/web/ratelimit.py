"""Per-user rate limits (per client IP while signed out), enforced by Flask-Limiter.

The caller is already known when the limiter asks (auth.identify_caller runs first): the key
and limit functions only read it, so they cannot fail and leave a request uncounted. Requests
that match no route (404, 405) share one budget per client IP, the signed-out one.

One Redis round trip per limit: Flask-Limiter's fixed window counts a request with one call and
reads the window for the X-RateLimit-* headers with two more (GET and TTL). The strategy below
counts with limits' own script, extended to return the key's TTL, and keeps that window for the
headers. `make bench` measured what that earns (README, Performance).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, current_app, g, request
from flask_limiter import Limiter, RequestLimit
from limits import RateLimitItem
from limits.storage import RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter, RateLimiter
from limits.util import WindowStats

from ..identity import caller
from ..metrics import UNMATCHED


def _limit_value() -> str:
    name = "STATUS_RATE_LIMIT" if caller() else "ANONYMOUS_RATE_LIMIT"
    return current_app.config[name]  # type: ignore[no-any-return]


def _anonymous_limit() -> str:
    return current_app.config["ANONYMOUS_RATE_LIMIT"]  # type: ignore[no-any-return]


def _endpoint_or_unmatched() -> str:
    # Flask-Limiter skips a request with no endpoint; named, it falls to the default limit.
    return request.endpoint or UNMATCHED


def _matched() -> bool:
    """A request a route matched has its endpoint's own limit (or none), not the default."""
    return request.endpoint is not None


def _key() -> str:
    identity = caller()
    return f"user:{identity.user_id}" if identity else _ip()


def _ip() -> str:
    return f"ip:{request.remote_addr}"


def _webhook_limit() -> str:
    return current_app.config["WEBHOOK_RATE_LIMIT"]  # type: ignore[no-any-return]


def init_app(app: Flask, per_caller: list[Blueprint], per_ip: list[Blueprint]) -> None:
    """Limit every endpoint of these blueprints, each endpoint with its own budget: per user
    (per IP while signed out), or per client IP alone (provider webhooks)."""
    app.config["RATELIMIT_HEADERS_ENABLED"] = False  # headers(): no Retry-After on a 200
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True  # Redis down: count per worker
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    limiter = _WindowOnHitLimiter(
        key_func=_key,
        app=app,
        request_identifier=_endpoint_or_unmatched,
        default_limits=[_anonymous_limit],
        default_limits_exempt_when=_matched,
    )
    for blueprint in per_caller:
        limiter.limit(_limit_value, key_func=_key)(blueprint)
    for blueprint in per_ip:
        limiter.limit(_webhook_limit, key_func=_ip)(blueprint)
    app.extensions["rate_limiter"] = limiter


def headers() -> list[tuple[str, str]]:
    """X-RateLimit-* for a limited request, and Retry-After in seconds when it was refused."""
    limiter: Limiter | None = current_app.extensions.get("rate_limiter")
    current = limiter.current_limit if limiter else None
    if current is None:
        return []
    try:
        reset_at, remaining = _window(current)
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


def _window(current: RequestLimit) -> tuple[int, int]:
    """Reset time and remaining count: from this request's hit when it reported them."""
    seen: WindowStats | None = g.get("rate_limit_windows", {}).get(current.key)
    if seen is None:
        return current.reset_at, current.remaining
    return int(seen.reset_time + 1), seen.remaining  # as RequestLimit.reset_at rounds it


# One round trip per limit check: the hit also reports the window the headers show.

# limits' fixed-window script (incr_expire.lua), also returning the key's TTL.
_INCR_EXPIRE_TTL = b"""
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if current == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


class _WindowOnHitLimiter(Limiter):
    """Flask-Limiter whose fixed-window strategy is _FixedWindowOnHit, on Redis and on the
    in-memory fallback alike."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._on_hit: dict[RateLimiter, _FixedWindowOnHit] = {}
        super().__init__(*args, **kwargs)

    @property
    def limiter(self) -> RateLimiter:
        strategy = super().limiter  # the storage's, or the in-memory fallback's
        if type(strategy) is not FixedWindowRateLimiter:
            return strategy
        if strategy not in self._on_hit:
            self._on_hit[strategy] = _FixedWindowOnHit(strategy.storage)
        return self._on_hit[strategy]


class _FixedWindowOnHit(FixedWindowRateLimiter):
    """The fixed window, keeping each hit's window on flask.g for this request's headers."""

    def __init__(self, storage: Storage) -> None:
        super().__init__(storage)
        self._redis = storage if isinstance(storage, RedisStorage) else None
        self._script = (
            self._redis.get_connection().register_script(_INCR_EXPIRE_TTL) if self._redis else None
        )

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        key = item.key_for(*identifiers)
        count, reset = self._count(key, item.get_expiry(), cost)
        g.setdefault("rate_limit_windows", {})[key] = WindowStats(reset, item.amount - count)
        return count <= item.amount

    def _count(self, key: str, expiry: int, amount: int) -> tuple[int, float]:
        """The count after this hit and when the window resets, as get_window_stats has them."""
        if self._redis is None or self._script is None:
            count = self.storage.incr(key, expiry, amount=amount)
            return count, self.storage.get_expiry(key)
        count, ttl = self._script([self._redis.prefixed_key(key)], [expiry, amount])
        return int(count), max(int(ttl), 0) + time.time()
