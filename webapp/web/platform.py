"""The platform's backends' API: a creator's integrations and fresh credentials, for service keys.

No cookie and no CSRF token here: a request is believed by its `Authorization: Bearer` key
alone, and each route needs one of the key's scopes. nginx serves these only on its internal
listener, never on the public origin (deploy/snippets/integrations-http.conf).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ..errors import ApiError, not_found
from ..identity import backend_with, parse_user_id
from ..integrations import list_for_user
from ..integrations.credentials import credentials
from ..integrations.oauth import reconnect_url
from ..integrations.status import IntegrationStatus, contract_json
from ..metrics import CREDENTIAL_READS
from ..timeutil import iso_z, utcnow
from .http import envelope, log_fields

bp = Blueprint("platform", __name__, url_prefix="/api/platform")
INTEGRATIONS_READ, CREDENTIALS_READ = "integrations:read", "credentials:read"
MAX_ID = 2**31 - 1  # integrations.id is an int4


@bp.get("/users/<user_id>/integrations")
def user_integrations(user_id: str) -> Any:
    """The creator's integrations as the status endpoint shows them, with why and where to fix."""
    backend_with(INTEGRATIONS_READ)
    items = list_for_user(parse_user_id(user_id), utcnow())
    log_fields(integrationCount=len(items))
    return envelope({"integrations": [_with_reason(item) for item in items]})


@bp.get("/integrations/<integration_id>/credentials")
def integration_credentials(integration_id: str) -> Any:
    """The integration's token, fresh for its provider's margin (refreshed on read)."""
    key = backend_with(CREDENTIALS_READ)
    force = _flag("forceRefresh")
    outcome, found = "error", None
    try:
        found = credentials(_integration_id(integration_id), utcnow(), force=force)
        outcome = "refreshed" if found.refreshed else "ok"
    except ApiError as err:
        outcome = err.code.lower()
        raise
    finally:  # the request's log line says what the read came to; never the token
        CREDENTIAL_READS.labels(key.name, outcome).inc()
        log_fields(
            integrationId=integration_id,
            provider=found.provider if found else None,
            outcome=outcome,
            forced=force,
            refreshed=bool(found and found.refreshed),
        )
    return envelope(
        {
            "integrationId": found.integration_id,
            "userId": found.user_id,
            "provider": found.provider,
            "accountId": found.account_id,
            "tokenType": found.token_type,
            "accessToken": found.access_token,
            "expiresAt": iso_z(found.expires_at),
            "scopes": found.scopes,
        }
    )


def _with_reason(item: IntegrationStatus) -> dict[str, Any]:
    return {**contract_json(item), "reason": item.reason, "reconnectUrl": reconnect_url(item.id)}


def _integration_id(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise not_found()
    return int(value)


def _flag(name: str) -> bool:
    value = request.args.get(name, "false")
    if value not in ("true", "false"):
        raise ApiError(
            "VALIDATION_ERROR", f"{name} must be true or false", 400, fields={name: "true or false"}
        )
    return value == "true"
