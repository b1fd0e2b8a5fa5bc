"""The shipped gunicorn.conf.py's worker model for the bare app, without the service's hooks.

Reading the shipped file (and the same GUNICORN_*/WEB_CONCURRENCY variables) keeps the two
servers on one worker model; its post_fork hook needs the service's database, so it stays out.
"""

import os
import runpy

_shipped = runpy.run_path(os.path.join(os.path.dirname(__file__), "..", "gunicorn.conf.py"))
_WORKER_MODEL = (
    "workers",
    "worker_class",
    "threads",
    "timeout",
    "graceful_timeout",
    "keepalive",
    "preload_app",
    "accesslog",
    "errorlog",
    "loglevel",
)
globals().update({name: _shipped[name] for name in _WORKER_MODEL})
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
