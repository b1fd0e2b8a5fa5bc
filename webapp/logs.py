"""JSON lines on stdout: one object per log record, fields given through `extra={"fields": ...}`."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from flask import Flask


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def init_app(app: Flask) -> None:
    """Send the service's loggers to stdout as JSON (once per process)."""
    level = app.config["LOG_LEVEL"]
    for name in ("webapp", "flask-limiter", app.logger.name):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(getattr(h, "is_webapp_json", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(JsonFormatter())
            handler.is_webapp_json = True  # type: ignore[attr-defined]
            logger.handlers = [handler]
            logger.propagate = False
