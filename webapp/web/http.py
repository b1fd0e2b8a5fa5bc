"""Cross-cutting HTTP concerns: correlation id, timing, headers, error envelope, request log."""

from __future__ import annotations

import io
import logging
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from flask import Flask, current_app, g, request
from flask.wrappers import Request, Response
from flask_limiter import RateLimitExceeded
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, HTTPException

from ..errors import ApiError
from ..identity import caller
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

request_log = logging.getLogger("webapp.request")


def is_htmx() -> bool:
    """The request comes from HTMX on the page (it answers with fragments, not pages)."""
    return request.headers.get("HX-Request") == "true"


def elapsed_ms() -> int:
    """Milliseconds since the request started; fixed once the body carries it."""
    if "duration_ms" not in g:
        started: float = g.get("started", time.perf_counter())
        return round((time.perf_counter() - started) * 1000)
    return int(g.duration_ms)


def envelope(data: dict[str, Any], status: int = 200) -> tuple[dict[str, Any], int]:
    g.duration_ms = elapsed_ms()
    return {"success": True, "data": data, "duration": g.duration_ms}, status


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    g.error_code = code
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["field"] = next(iter(fields))  # the first, as clients read before `fields`
        error["fields"] = fields
    body: dict[str, Any] = {"success": False, "error": error}
    if code not in _CODES_WITHOUT_DURATION:
        g.duration_ms = elapsed_ms()
        body["duration"] = g.duration_ms
    return body


def _correlation_id() -> str:
    incoming = request.headers.get("X-Correlation-Id", "")
    if len(incoming) == 36:
        try:
            return str(uuid.UUID(incoming))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _start() -> None:
    g.started = time.perf_counter()
    g.correlation_id = _correlation_id()


def _require_host() -> None:
    # HTTP/1.1 makes Host mandatory (RFC 9112, 3.2); gunicorn passes a request without it on.
    environ = request.environ
    if environ.get("SERVER_PROTOCOL") == "HTTP/1.1" and not environ.get("HTTP_HOST"):
        raise BadRequest()  # a protocol error: the JSON envelope on every blueprint


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


def _finish(response: Response) -> Response:
    context = g._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not ten
    correlation_id = context.get("correlation_id") or str(uuid.uuid4())
    duration_ms = elapsed_ms()
    headers = ratelimit.headers()
    retry_after = context.get("retry_after")
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    csp = current_app.config["PAGE_CSP"] if response.mimetype == "text/html" else API_CSP
    headers += [
        ("X-Correlation-Id", correlation_id),
        ("X-Duration-Ms", str(duration_ms)),
        ("Cache-Control", CACHE_CONTROL),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", csp),
    ]
    _set_headers(response.headers, headers)
    incoming = request._get_current_object()  # type: ignore[attr-defined]
    _observe(incoming, context, response.status_code, duration_ms)
    _log(incoming, context, response.status_code, correlation_id, duration_ms)
    return response


def _observe(incoming: Request, context: Any, status: int, duration_ms: int) -> None:
    endpoint = endpoint_label(incoming.endpoint)
    REQUESTS.labels(endpoint, method_label(incoming.method), str(status)).observe(
        duration_ms / 1000
    )
    if status >= 400:
        ERRORS.labels(endpoint, context.get("error_code", str(status))).inc()


def _log(
    incoming: Request, context: Any, status: int, correlation_id: str, duration_ms: int
) -> None:
    identity = caller()
    fields = {
        "correlationId": correlation_id,
        "userId": identity.user_id if identity else None,
        "method": incoming.method,
        "path": incoming.path,
        "status": status,
        "durationMs": duration_ms,
        "pid": os.getpid(),
    }
    fields.update(context.get("log_fields", {}))
    request_log.info("request", extra={"fields": fields})


def _set_headers(headers: Headers, values: list[tuple[str, str]]) -> None:
    """headers[name] = value for each, in order, looking through the headers only once."""
    present = {name.lower() for name, _ in headers}
    for name, value in values:
        if name.lower() in present:
            headers[name] = value  # replaces, as the view or an earlier value may have set it
        else:
            headers.add(name, value)
            present.add(name.lower())


def _api_error(err: ApiError) -> tuple[dict[str, Any], int]:
    if err.retry_after is not None:
        g.retry_after = err.retry_after
    return error_body(err.code, err.message, err.fields), err.status


def rate_limited(err: RateLimitExceeded) -> tuple[dict[str, Any], int]:
    return error_body("RATE_LIMIT_EXCEEDED", "Too many requests. Please try again later."), 429


def _http_error(err: HTTPException) -> Any:
    status = err.code or 500
    code, message = _HTTP_CODES.get(status, ("BAD_REQUEST", "Bad request"))
    if status >= 500:
        return _unexpected(err)
    allowed = getattr(err, "valid_methods", None)  # a 405 must name the methods it allows
    return error_body(code, message), status, {"Allow": ", ".join(allowed)} if allowed else {}


def _unexpected(err: Exception) -> tuple[dict[str, Any], int]:
    logging.getLogger("webapp.errors").error(
        "unhandled error",
        exc_info=err,
        extra={"fields": {"correlationId": g.get("correlation_id")}},
    )
    g.retry_after = 60
    return error_body("INTERNAL_ERROR", "Internal server error"), 500


def init_app(app: Flask) -> None:
    """Register the hooks; call before the limiter so timing covers its check."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, limit)  # type: ignore[method-assign]
    app.before_request(_start)
    app.before_request(_require_host)
    app.after_request(_finish)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(RateLimitExceeded, rate_limited)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
