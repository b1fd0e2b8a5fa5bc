"""A Redis storage for `limits` whose count also reports the window: one round trip a request.

Flask-Limiter counts a request with `incr()`, then reads the same key's expiry and count for
the X-RateLimit-* headers (`get_expiry()`, `get()`): three Redis round trips. Here `incr()`
runs limits' own counting script extended to return the key's TTL as well, and keeps the
window it saw for the thread that counted; the two reads that follow on that thread are
answered from it, each once, and every other read goes to Redis. The headers then show the
window as this request left it, which is what they promise.

A custom storage registered by its scheme is how `limits` documents extending it
(https://limits.readthedocs.io/en/stable/custom-storage.html); ratelimit.py names this one
for `redis://` and `rediss://` URIs. The figures that earn it: README, Performance.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from limits.storage import RedisStorage

SCHEME_PREFIX = "window+"
# limits' fixed-window script (incr_expire.lua), also returning the key's TTL in seconds.
_INCR_EXPIRE_TTL = b"""
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if current == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


@dataclass(slots=True)
class _Seen:
    """The window one count reported, until each part of it has been read once."""

    key: str
    count: int | None
    expiry: float | None


class WindowOnCountRedisStorage(RedisStorage):
    """RedisStorage whose incr() also reports the window, for the reads that follow it."""

    # limits' registry reads the schemes from the class as it is defined (a list, by its API).
    STORAGE_SCHEME = [SCHEME_PREFIX + "redis", SCHEME_PREFIX + "rediss"]  # noqa: RUF012

    def __init__(self, uri: str, **options: Any) -> None:
        self._seen = threading.local()
        super().__init__(uri.removeprefix(SCHEME_PREFIX), **options)

    def initialize_storage(self, _uri: str) -> None:
        super().initialize_storage(_uri)
        self.lua_incr_expire_ttl = self.get_connection().register_script(_INCR_EXPIRE_TTL)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count, ttl = self.lua_incr_expire_ttl([self.prefixed_key(key)], [expiry, amount])
        self._seen.window = _Seen(key, int(count), max(int(ttl), 0) + time.time())
        return int(count)

    def get(self, key: str) -> int:
        seen = self._window_of(key)
        if seen is None or seen.count is None:
            return super().get(key)
        count, seen.count = seen.count, None
        return count

    def get_expiry(self, key: str) -> float:
        seen = self._window_of(key)
        if seen is None or seen.expiry is None:
            return super().get_expiry(key)
        expiry, seen.expiry = seen.expiry, None
        return expiry

    def _window_of(self, key: str) -> _Seen | None:
        seen: _Seen | None = getattr(self._seen, "window", None)
        return seen if seen is not None and seen.key == key else None
