"""The JSON API blueprint: parse, call the service, serialise."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from . import integrations
from .auth import current_user_id
from .http import envelope
from .integrations import IntegrationStatus
from .timeutil import iso_z, utcnow

bp = Blueprint("api", __name__, url_prefix="/api")


def integration_json(item: IntegrationStatus) -> dict[str, Any]:
    """The contract's integration object, keys in the contract's order."""
    return {
        "id": item.id,
        "provider": item.provider,
        "accountId": item.account_id,
        "accountName": item.account_name,
        "status": item.status,
        "expiresAt": iso_z(item.expires_at),
        "createdAt": iso_z(item.created_at),
        "updatedAt": iso_z(item.updated_at),
    }


@bp.get("/integrations/status")
def integrations_status() -> Any:
    user_id = current_user_id()
    items = integrations.list_for_user(user_id, now=utcnow())
    g.log_fields = {
        "integrationCount": len(items),
        "expiredCount": sum(1 for item in items if item.status == "expired"),
    }
    return envelope({"integrations": [integration_json(item) for item in items]})
