"""The OpenAPI 3.1 description of the JSON API and the operator endpoints, served as JSON.

Built from the values the code enforces (providers, field patterns, header values), so the
document cannot drift from the service; tests/test_openapi.py holds it to the real responses.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from .api import MAX_PATH_SEGMENT
from .http import CACHE_CONTROL
from .integrations import ACCOUNT_ID, API_KEY
from .providers import ALL_PROVIDERS, OAUTH_PROVIDERS

bp = Blueprint("openapi", __name__)

JSON = dict[str, Any]
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Trimmed of surrounding whitespace, 1-100 characters without control characters.
_NAME_CHAR = r"[^\s\x00-\x1f\x7f-\x9f]"
ACCOUNT_NAME = rf"^\s*{_NAME_CHAR}(?:[^\x00-\x1f\x7f-\x9f]{{0,98}}{_NAME_CHAR})?\s*$"
SESSION_COOKIES = (
    "__Secure-next-auth.session-token",
    "authjs.session-token",
    "__Secure-authjs.session-token",
)
# Every code the error envelope carries: (HTTP status, when). The first eleven are the contract's.
ERROR_CODES = {
    "UNAUTHORIZED": (401, "No valid NextAuth session cookie."),
    "INVALID_USER_ID": (400, "The session's user id is not a positive 32-bit integer."),
    "RATE_LIMIT_EXCEEDED": (429, "Too many requests: wait `Retry-After` seconds."),
    "INTERNAL_ERROR": (500, "The service failed (e.g. its database): retry after `Retry-After`."),
    "INVALID_PROVIDER": (400, "Unknown provider, or one this deployment has not configured."),
    "VALIDATION_ERROR": (400, "A request field is malformed; `error.field` names it."),
    "NOT_FOUND": (404, "No such integration for this user (another user's looks the same)."),
    "FORBIDDEN": (403, "Cross-site request refused (`Origin`, `Sec-Fetch-Site`, CSRF token)."),
    "REAUTH_REQUIRED": (409, "The provider no longer honours the grant: connect again."),
    "PROVIDER_UNAVAILABLE": (502, "The provider did not answer: retry after `Retry-After`."),
    "METHOD_NOT_ALLOWED": (405, "The URL exists, not with this method; `Allow` lists those."),
    "BAD_REQUEST": (400, "The request could not be read."),
    "PAYLOAD_TOO_LARGE": (413, "The body is larger than the service accepts."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "The body's media type is not accepted."),
    "HEADERS_TOO_LARGE": (431, "The request headers are too large."),
}
_WITHOUT_DURATION = ("UNAUTHORIZED", "RATE_LIMIT_EXCEEDED")  # answered before any work
_RETRY_AFTER_STATUSES = (429, 500, 502)
_SIGNED_IN: list[dict[str, list[str]]] = [{"sessionCookie": []}]


@bp.get("/api/openapi.json")
def openapi_json() -> JSON:
    return document()


def document() -> JSON:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Creator integrations",
            "version": "1.0.0",
            "summary": "Connected Instagram, TikTok, Reddit and OnlyFans accounts of a creator.",
            "description": _DESCRIPTION + _error_table(),
        },
        "tags": [
            {"name": "integrations", "description": "The signed-in creator's integrations."},
            {"name": "operations", "description": "For operators; not served by the proxy."},
        ],
        "paths": _paths(),
        "components": _components(),
    }


def _paths() -> JSON:
    provider, oauth_provider, account = (
        {"$ref": f"#/components/parameters/{name}"}
        for name in ("provider", "oauthProvider", "accountId")
    )
    # A state-changing request may carry a form, which the cross-site check reads.
    changing = ("UNAUTHORIZED", "INVALID_USER_ID", "FORBIDDEN", "PAYLOAD_TOO_LARGE")
    return {
        "/api/integrations/status": {
            "get": _api(
                "getIntegrationsStatus",
                "The creator's integrations with their status now, ordered by id.",
                {"200": _ok("The integrations.", "IntegrationsStatus")},
                ("UNAUTHORIZED", "INVALID_USER_ID"),
            )
        },
        "/api/integrations/connect/onlyfans": {
            "post": _api(
                "connectOnlyFans",
                "Connect (or update) an OnlyFans account with its API key, stored encrypted.",
                {
                    "201": _ok("Connected.", "IntegrationResult"),
                    "200": _ok("Already connected: name and key updated.", "IntegrationResult"),
                },
                (*changing, "VALIDATION_ERROR"),
                body=True,
            )
        },
        "/api/integrations/connect/{provider}": {
            "parameters": [oauth_provider],
            "post": _api(
                "connectOAuth",
                "Start connecting an OAuth account: send the creator to `authorizationUrl`.",
                {"200": _ok("Where to send the creator.", "AuthorizationResult")},
                (*changing, "INVALID_PROVIDER"),
            ),
        },
        "/api/integrations/callback/{provider}": {"get": _callback()},
        "/api/integrations/refresh/{provider}/{accountId}": {
            "parameters": [provider, account],
            "post": _api(
                "refreshIntegration",
                "Refresh the account's tokens now (an OnlyFans key has nothing to refresh).",
                {"200": _ok("Refreshed.", "IntegrationResult")},
                (
                    *changing,
                    "INVALID_PROVIDER",
                    "NOT_FOUND",
                    "REAUTH_REQUIRED",
                    "PROVIDER_UNAVAILABLE",
                ),
            ),
        },
        "/api/integrations/disconnect/{provider}/{accountId}": {
            "parameters": [provider, account],
            "delete": _api(
                "disconnectIntegration",
                "Revoke at the provider where possible (best effort), then delete.",
                {"200": _ok("Disconnected.", "DisconnectResult")},
                (*changing, "INVALID_PROVIDER", "NOT_FOUND"),
            ),
        },
        "/livez": {"get": _ops("livez", "The process answers.", {"200": _ok("OK.", "Liveness")})},
        "/readyz": {
            "get": _ops(
                "readyz",
                "Ready when the database and the rate-limit storage answer.",
                {
                    "200": _ok("Ready.", "Readiness"),
                    "503": _ok("Not ready; `checks` names what fails.", "Readiness"),
                },
            )
        },
        "/metrics": {
            "get": _ops(
                "metrics",
                "Prometheus metrics of every worker.",
                {"200": _response("Text exposition format.", {"text/plain": {"type": "string"}})},
            )
        },
        "/api/openapi.json": {
            "get": _ops(
                "openapi",
                "This document. Not rate limited.",
                {"200": _response("OpenAPI 3.1.", {"application/json": {"type": "object"}})},
            )
        },
    }


def _api(
    operation_id: str,
    summary: str,
    success: JSON,
    errors: tuple[str, ...],
    *,
    body: bool = False,
) -> JSON:
    """An operation of the rate-limited JSON API, with its documented error envelopes."""
    codes = (*errors, "RATE_LIMIT_EXCEEDED", "INTERNAL_ERROR")
    operation: JSON = {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["integrations"],
        "security": _SIGNED_IN,
        "responses": {**_limited(success), **_errors(codes)},
    }
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiKey"}}},
        }
    return operation


def _callback() -> JSON:
    outcome = "`connected=<provider>` or `error=<reason>&provider=<provider>`"
    found = _response(f"Back to the integrations page with {outcome}.", None, limited=True)
    found["headers"]["Location"] = {"$ref": "#/components/headers/Location"}
    return {
        "operationId": "oauthCallback",
        "summary": "Where the provider sends the creator back; always ends on the page.",
        "tags": ["integrations"],
        # Signed out, the creator still lands on the page, with `error=signed_out`.
        "security": [{}, *_SIGNED_IN],
        "parameters": [
            _path_param("provider", {}, "Any value: an unknown one ends in `invalid_provider`."),
            *(
                {"name": name, "in": "query", "schema": {"type": "string"}, "description": text}
                for name, text in (
                    ("code", "The provider's authorization code."),
                    ("state", "The single-use state this service issued."),
                    ("error", "The provider's error, e.g. `access_denied`."),
                )
            ),
        ],
        "responses": {"303": found, **_errors(("RATE_LIMIT_EXCEEDED", "INTERNAL_ERROR"))},
    }


def _ops(operation_id: str, summary: str, responses: JSON) -> JSON:
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["operations"],
        "security": [],
        "responses": responses,
    }


def _ok(description: str, schema: str) -> JSON:
    return _response(description, {"application/json": {"$ref": f"#/components/schemas/{schema}"}})


def _limited(responses: JSON) -> JSON:
    for response in responses.values():
        response["headers"].update(_rate_limit_headers())
    return responses


def _rate_limit_headers() -> JSON:
    names = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _response(description: str, content: JSON | None, *, limited: bool = False) -> JSON:
    names = ("X-Correlation-Id", "X-Duration-Ms", "Cache-Control")
    response: JSON = {
        "description": description,
        "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in names},
    }
    if limited:
        response["headers"].update(_rate_limit_headers())
    if content:
        response["content"] = {kind: {"schema": schema} for kind, schema in content.items()}
    return response


def _errors(codes: tuple[str, ...]) -> JSON:
    """One response per status, its envelope narrowed to the codes that status carries here."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)
    responses = {}
    for status, group in sorted(by_status.items()):
        narrowed: JSON = {"properties": {"error": {"properties": {"code": {"enum": group}}}}}
        if all(code in _WITHOUT_DURATION for code in group):
            narrowed["not"] = {"required": ["duration"]}
        elif not any(code in _WITHOUT_DURATION for code in group):
            narrowed["required"] = ["duration"]
        schema = {"allOf": [{"$ref": "#/components/schemas/ErrorEnvelope"}, narrowed]}
        text = " ".join(f"`{code}`: {ERROR_CODES[code][1]}" for code in group)
        # A URL that matches no route (say, a newline in an id) is no endpoint: not limited.
        response = _response(text, {"application/json": schema}, limited=status != 404)
        if status in _RETRY_AFTER_STATUSES:
            response["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        responses[str(status)] = response
    return responses


def _components() -> JSON:
    return {
        "securitySchemes": {
            "sessionCookie": {
                "type": "apiKey",
                "in": "cookie",
                "name": "next-auth.session-token",
                "description": (
                    "The NextAuth session cookie, set by the Next.js app at sign-in. Also read "
                    f"under {', '.join(f'`{name}`' for name in SESSION_COOKIES)}, and as chunked "
                    "`<name>.0`, `<name>.1`, ... cookies. With the `database` strategy it is a "
                    "session token; with `jwt`, NextAuth's encrypted JWT."
                ),
            }
        },
        "parameters": {
            "provider": _path_param(
                "provider", {"enum": list(ALL_PROVIDERS)}, "The integration's provider."
            ),
            "oauthProvider": _path_param(
                "provider",
                {"enum": list(OAUTH_PROVIDERS)},
                "An OAuth provider this deployment has credentials for.",
            ),
            "accountId": _path_param(
                "accountId",
                {"minLength": 1, "maxLength": MAX_PATH_SEGMENT},
                "The account's id at the provider, as `accountId` in the integration.",
                "123456789",
            ),
        },
        "headers": _headers(),
        "schemas": _schemas(),
    }


def _path_param(name: str, schema: JSON, description: str, example: str | None = None) -> JSON:
    parameter: JSON = {"name": name, "in": "path", "required": True, "description": description}
    parameter["schema"] = {"type": "string", **schema}
    if example is not None:
        parameter["example"] = example
    return parameter


def _headers() -> JSON:
    def header(description: str, schema: JSON) -> JSON:
        return {"description": description, "required": True, "schema": schema}

    return {
        "X-Correlation-Id": header(
            "The request's id: a well-formed incoming UUID is kept, anything else replaced.",
            {"type": "string", "format": "uuid", "pattern": UUID},
        ),
        "X-Duration-Ms": header(
            "Processing time in milliseconds.", {"type": "integer", "minimum": 0}
        ),
        "Cache-Control": header("Never cached.", {"type": "string", "const": CACHE_CONTROL}),
        "X-RateLimit-Limit": header("Requests allowed per window.", {"type": "integer"}),
        "X-RateLimit-Remaining": header(
            "Requests left in this window.", {"type": "integer", "minimum": 0}
        ),
        "X-RateLimit-Reset": header(
            "When the window resets, in Unix seconds.", {"type": "integer", "minimum": 0}
        ),
        "Retry-After": header(
            "Seconds to wait before retrying.", {"type": "integer", "minimum": 1}
        ),
        "Location": header(
            "The integrations page with the outcome in its query.",
            {"type": "string", "pattern": r"^/integrations\?"},
        ),
    }


def _schemas() -> JSON:
    def envelope(data: JSON) -> JSON:
        return _object(
            success={"const": True},
            data=data,
            duration={"type": "integer", "minimum": 0, "description": "Milliseconds."},
        )

    integration_ref = {"$ref": "#/components/schemas/Integration"}
    return {
        "Timestamp": {"type": "string", "format": "date-time", "pattern": TIMESTAMP},
        "Integration": _object(
            id={"type": "integer", "minimum": 1},
            provider={"type": "string", "enum": list(ALL_PROVIDERS)},
            accountId={"type": "string", "minLength": 1, "maxLength": 255},
            accountName={"type": "string", "maxLength": 255},
            status={"type": "string", "enum": ["connected", "expired"]},
            expiresAt={
                "oneOf": [{"$ref": "#/components/schemas/Timestamp"}, {"type": "null"}],
                "description": "When the token expires; null when it never does.",
            },
            createdAt={"$ref": "#/components/schemas/Timestamp"},
            updatedAt={"$ref": "#/components/schemas/Timestamp"},
        ),
        "IntegrationsStatus": envelope(
            _object(integrations={"type": "array", "items": integration_ref})
        ),
        "IntegrationResult": envelope(_object(integration=integration_ref)),
        "AuthorizationResult": envelope(
            _object(authorizationUrl={"type": "string", "format": "uri"})
        ),
        "DisconnectResult": envelope(
            _object(
                disconnected=_object(
                    provider={"type": "string", "enum": list(ALL_PROVIDERS)},
                    accountId={"type": "string"},
                )
            )
        ),
        "ErrorEnvelope": _object(
            success={"const": False},
            error=_object(
                code={"type": "string", "enum": list(ERROR_CODES)},
                message={"type": "string"},
                field={"type": "string", "enum": ["accountId", "accountName", "apiKey"]},
                required=("code", "message"),
            ),
            duration={"type": "integer", "minimum": 0, "description": "Milliseconds."},
            required=("success", "error"),
        ),
        "ApiKey": {
            "type": "object",
            "required": ["accountId", "accountName", "apiKey"],
            "properties": {
                "accountId": {"type": "string", "pattern": f"^{ACCOUNT_ID.pattern}$"},
                "accountName": {"type": "string", "pattern": ACCOUNT_NAME},
                "apiKey": {"type": "string", "pattern": f"^{API_KEY.pattern}$"},
            },
            "example": {
                "accountId": "of_555",
                "accountName": "creator_of",
                "apiKey": "of_live_0123456789abcdef",
            },
        },
        "Liveness": _object(status={"const": "ok"}),
        "Readiness": _object(
            status={"enum": ["ok", "unavailable"]},
            checks=_object(
                database={"enum": ["ok", "unreachable"]},
                rateLimitStorage={"enum": ["ok", "unreachable"]},
            ),
        ),
    }


def _object(*, required: tuple[str, ...] | None = None, **properties: JSON) -> JSON:
    """A closed object; every property required unless `required` names some."""
    return {
        "type": "object",
        "required": list(properties if required is None else required),
        "additionalProperties": False,
        "properties": properties,
    }


def _error_table() -> str:
    rows = "\n".join(
        f"| `{code}` | {status} | {text} |" for code, (status, text) in ERROR_CODES.items()
    )
    return f"\n\n## Error codes\n\n| Code | Status | When |\n|---|---|---|\n{rows}\n"


_DESCRIPTION = """\
Which of a creator's connected accounts work and which have expired, and the actions on them.
The contract of `GET /api/integrations/status` is `api-integrations-status.md`.

**Authentication**: the NextAuth session cookie (`sessionCookie`).

**Every response** carries `X-Correlation-Id`, `X-Duration-Ms` and `Cache-Control`.
Responses of `/api/integrations/*` also carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
`X-RateLimit-Reset` (per signed-in user, per client IP otherwise). A 429, a 500 and a 502 carry
`Retry-After` in seconds.

**Errors** share one envelope: `{"success": false, "error": {"code", "message"}, "duration"}`;
401 and 429 are answered before any work and have no `duration`. A method a URL does not
support is a 405 `METHOD_NOT_ALLOWED` with `Allow`. A state-changing request another site could
have made is a 403 `FORBIDDEN`: JSON clients are checked by `Origin` and `Sec-Fetch-Site`; a
form or HTMX request also needs the session's CSRF token (`X-CSRF-Token` or `csrf_token`).

The integrations page (`/integrations` and its form actions) serves HTML to browsers and is not
described here."""
