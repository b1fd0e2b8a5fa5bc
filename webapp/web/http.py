"""Cross-cutting HTTP concerns: correlation id, timing, headers, error envelope, request log."""

from __future__ import annotations

import io
import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from flask import Flask, current_app, g, request
from flask.wrappers import Response
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import BadRequest, HTTPException

from ..errors import ApiError
from ..identity import backend, caller
from ..metrics import ERRORS, REQUESTS, endpoint_label, method_label
from . import ratelimit

CACHE_CONTROL = "private, no-cache, no-store, must-revalidate"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Answered before any work is done, so the contract shows them without `duration`.
_CODES_WITHOUT_DURATION = ("UNAUTHORIZED", "RATE_LIMIT_EXCEEDED")
_HTTP_CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    413: ("PAYLOAD_TOO_LARGE", "Request body too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    431: ("HEADERS_TOO_LARGE", "Request headers too large"),
}
# The same on every response; per-response headers follow them.
_FIXED_HEADERS = (
    ("Cache-Control", CACHE_CONTROL),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)

request_log = logging.getLogger("webapp.request")


@dataclass(slots=True)
class Exchange:
    """What the request path keeps of one request for its response and its log line."""

    started: float
    correlation_id: str
    duration_ms: int | None = None  # fixed once a body carries it, so header and body agree
    error_code: str | None = None
    log_fields: dict[str, object] = field(default_factory=dict)


def start() -> None:
    """The first step of every request: its clock and correlation id; Host is required."""
    g.exchange = Exchange(time.perf_counter(), _correlation_id())
    # HTTP/1.1 makes Host mandatory (RFC 9112, 3.2); gunicorn passes a request without it on.
    environ = request.environ
    if environ.get("SERVER_PROTOCOL") == "HTTP/1.1" and not environ.get("HTTP_HOST"):
        raise BadRequest()  # a protocol error: the JSON envelope on every blueprint


def is_htmx() -> bool:
    """The request comes from HTMX on the page (it answers with fragments, not pages)."""
    return request.headers.get("HX-Request") == "true"


def log_fields(**fields: object) -> None:
    """Add fields to this request's log line."""
    _exchange().log_fields.update(fields)


def envelope(data: dict[str, Any], status: int = 200) -> tuple[dict[str, Any], int]:
    return {"success": True, "data": data, "duration": _fix_duration()}, status


def error_body(
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    details: dict[str, object] | None = None,
) -> dict[str, Any]:
    _exchange().error_code = code
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["field"] = next(iter(fields))  # the first, as clients read before `fields`
        error["fields"] = fields
    error.update(details or {})
    body: dict[str, Any] = {"success": False, "error": error}
    if code not in _CODES_WITHOUT_DURATION:
        body["duration"] = _fix_duration()
    return body


def retry_after(seconds: int | None) -> dict[str, str]:
    """The Retry-After header of an error answer, when it names a wait."""
    return {} if seconds is None else {"Retry-After": str(seconds)}


def finish(response: Response) -> Response:
    """The last step of every request: headers, metrics and the log line."""
    exchange = _exchange()
    duration_ms = exchange.duration_ms
    if duration_ms is None:
        duration_ms = _elapsed_ms(exchange)
    csp = current_app.config["PAGE_CSP"] if response.mimetype == "text/html" else API_CSP
    headers = response.headers
    for name, value in (
        *ratelimit.headers(),
        ("X-Correlation-Id", exchange.correlation_id),
        ("X-Duration-Ms", str(duration_ms)),
        *_FIXED_HEADERS,
        ("Content-Security-Policy", csp),
    ):
        headers[name] = value
    incoming = request._get_current_object()  # type: ignore[attr-defined]  # one lookup, not six
    endpoint = endpoint_label(incoming.endpoint)
    status = response.status_code
    REQUESTS.labels(endpoint, method_label(incoming.method), str(status)).observe(
        duration_ms / 1000
    )
    if status >= 400:
        ERRORS.labels(endpoint, exchange.error_code or str(status)).inc()
    identity, key = caller(), backend()
    request_log.info(
        "request",
        extra={
            "fields": {
                "correlationId": exchange.correlation_id,
                "userId": identity.user_id if identity else None,
                **({"keyName": key.name} if key else {}),
                "method": incoming.method,
                "path": incoming.path,
                "status": status,
                "durationMs": duration_ms,
                "pid": os.getpid(),
                **exchange.log_fields,
            }
        },
    )
    return response


class ChunkedBodyLimit:
    """WSGI middleware: a chunked body gets a Content-Length, so the body limit applies to it."""

    def __init__(self, app: WSGIApplication, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # Werkzeug stops reading a body of unknown length at MAX_CONTENT_LENGTH without a word,
        # so an oversized one would be parsed cut short (a 400) instead of refused. Read one
        # byte past the limit and pass on what was read: too long is then the usual 413.
        if "HTTP_TRANSFER_ENCODING" in environ and environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read(self.limit + 1)
            environ = {k: v for k, v in environ.items() if k != "HTTP_TRANSFER_ENCODING"}
            environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        return self.app(environ, start_response)


def rate_limited(err: RateLimitExceeded) -> tuple[dict[str, Any], int, dict[str, str]]:
    message = "Too many requests. Please try again later."
    return (
        error_body("RATE_LIMIT_EXCEEDED", message),
        429,
        retry_after(ratelimit.seconds_to_reset()),
    )


def init_app(app: Flask) -> None:
    """The error envelope for every error, and the body limit; the hooks are the request
    path's (webapp/web/__init__.py)."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, limit)  # type: ignore[method-assign]
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(RateLimitExceeded, rate_limited)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _exchange() -> Exchange:
    found: Exchange | None = g.get("exchange")
    if found is None:  # an error raised before start() ran (a broken request environment)
        found = g.exchange = Exchange(time.perf_counter(), str(uuid.uuid4()))
    return found


def _elapsed_ms(exchange: Exchange) -> int:
    return round((time.perf_counter() - exchange.started) * 1000)


def _fix_duration() -> int:
    """Milliseconds since the request started, fixed now: the body and the header agree."""
    exchange = _exchange()
    exchange.duration_ms = _elapsed_ms(exchange)
    return exchange.duration_ms


def _correlation_id() -> str:
    incoming = request.headers.get("X-Correlation-Id", "")
    if len(incoming) == 36:
        try:
            return str(uuid.UUID(incoming))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _api_error(err: ApiError) -> tuple[dict[str, Any], int, dict[str, str]]:
    body = error_body(err.code, err.message, err.fields, err.details)
    return body, err.status, retry_after(err.retry_after)


def _http_error(err: HTTPException) -> Any:
    status = err.code or 500
    code, message = _HTTP_CODES.get(status, ("BAD_REQUEST", "Bad request"))
    if status >= 500:
        return _unexpected(err)
    allowed = getattr(err, "valid_methods", None)  # a 405 must name the methods it allows
    return error_body(code, message), status, {"Allow": ", ".join(allowed)} if allowed else {}


def _unexpected(err: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
    logging.getLogger("webapp.errors").error(
        "unhandled error",
        exc_info=err,
        extra={"fields": {"correlationId": _exchange().correlation_id}},
    )
    return error_body("INTERNAL_ERROR", "Internal server error"), 500, retry_after(60)
