"""The JSON API blueprint: parse, call the service, serialise."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, redirect, request, url_for

from . import integrations, oauth
from .auth import current_user_id, lists_integrations, prefetched_integrations
from .csrf import check_request
from .errors import ApiError
from .http import envelope
from .integrations import IntegrationStatus
from .metrics import EXPIRED_SEEN
from .providers import ALL_PROVIDERS
from .timeutil import iso_z, utcnow

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_PATH_SEGMENT = 255
PAGE_PATH = "/integrations"
CALLBACK_ERRORS = {
    "UNAUTHORIZED": "signed_out",
    "INVALID_USER_ID": "signed_out",
    "INVALID_PROVIDER": "invalid_provider",
}


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


@bp.before_request
def refuse_cross_site() -> None:
    check_request()


@bp.get("/integrations/status")
@lists_integrations
def integrations_status() -> Any:
    user_id = current_user_id()
    items = prefetched_integrations()
    if items is None:
        items = integrations.list_for_user(user_id, now=utcnow())
    expired = sum(1 for item in items if item.status == "expired")
    g.log_fields = {"integrationCount": len(items), "expiredCount": expired}
    EXPIRED_SEEN.inc(expired)
    return envelope({"integrations": [integration_json(item) for item in items]})


@bp.post("/integrations/connect/<provider>")
def connect(provider: str) -> Any:
    user_id = current_user_id()
    if provider == "onlyfans":
        fields = integrations.api_key_fields(_body())
        item, created = integrations.connect_api_key(user_id, *fields, now=utcnow())
        return envelope({"integration": integration_json(item)}, 201 if created else 200)
    url = oauth.start(user_id, provider, callback_url(provider), now=utcnow())
    body, status = envelope({"authorizationUrl": url})
    headers = {"HX-Redirect": url} if request.headers.get("HX-Request") else {}
    return body, status, headers


@bp.get("/integrations/callback/<provider>")
def callback(provider: str) -> Any:
    """Where the provider sends the creator back; always ends on the integrations page."""
    args = request.args
    try:
        user_id = current_user_id()
        oauth.complete(
            user_id,
            provider,
            args.get("code", ""),
            args.get("state", ""),
            args.get("error", ""),
            now=utcnow(),
        )
    except oauth.ConnectFailed as failed:
        return _to_page(error=failed.reason, **_known(provider))
    except ApiError as err:
        return _to_page(error=CALLBACK_ERRORS.get(err.code, "unavailable"), **_known(provider))
    return _to_page(connected=provider)


@bp.post("/integrations/refresh/<provider>/<path:account_id>")
def refresh(provider: str, account_id: str) -> Any:
    user_id = current_user_id()
    item = integrations.refresh_now(user_id, provider, _segment(account_id), now=utcnow())
    return envelope({"integration": integration_json(item)})


@bp.delete("/integrations/disconnect/<provider>/<path:account_id>")
def disconnect(provider: str, account_id: str) -> Any:
    user_id = current_user_id()
    account_id = _segment(account_id)
    integrations.disconnect(user_id, provider, account_id)
    return envelope({"disconnected": {"provider": provider, "accountId": account_id}})


def _known(provider: str) -> dict[str, str]:
    return {"provider": provider} if provider in ALL_PROVIDERS else {}


def _to_page(**outcome: str) -> Any:
    # Only known words travel in the query: the page turns them into messages.
    return redirect(f"{PAGE_PATH}?{urlencode(outcome)}", code=303)


def callback_url(provider: str) -> str:
    """This service's callback, on PUBLIC_BASE_URL when set (behind a proxy)."""
    path = url_for("api.callback", provider=provider)
    base = current_app.config["PUBLIC_BASE_URL"]
    return f"{base}{path}" if base else url_for("api.callback", provider=provider, _external=True)


def _body() -> dict[str, Any]:
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # nested deeper than the parser goes: malformed all the same
            body = None
        if not isinstance(body, dict):
            raise ApiError("VALIDATION_ERROR", "Body must be a JSON object", 400)
        return body
    return request.form.to_dict()


def _segment(account_id: str) -> str:
    if not account_id or len(account_id) > MAX_PATH_SEGMENT:
        raise integrations.not_found()
    return account_id
