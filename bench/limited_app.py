"""The bare app with Flask-Limiter on the bench's Redis, for gunicorn (see bench/floor.py)."""

from __future__ import annotations

import os

from .bare_app import limited_app

app = limited_app(
    os.environ["RATELIMIT_STORAGE_URI"],
    os.environ["STATUS_RATE_LIMIT"],
    os.environ["RATELIMIT_KEY_PREFIX"],
)
