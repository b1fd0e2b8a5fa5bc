"""The JSON API blueprint: parse, call the service, serialise."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, request
from flask_limiter import RateLimitExceeded

from .. import integrations
from ..errors import ApiError, not_found
from ..identity import signed_in
from ..integrations import SignIn, oauth
from ..integrations.status import contract_json
from ..metrics import EXPIRED_SEEN
from ..providers import REGISTRY
from ..timeutil import utcnow
from . import http, messages, ratelimit
from .csrf import check_request
from .http import envelope, is_htmx

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_PATH_SEGMENT = 255
PAGE_PATH = "/integrations"


@bp.before_request
def refuse_cross_site() -> None:
    check_request()


@bp.get("/integrations/status")
def integrations_status() -> Any:
    items = integrations.list_for_user(signed_in().user_id, now=utcnow())
    expired = sum(1 for item in items if item.status == "expired")
    http.log_fields(integrationCount=len(items), expiredCount=expired)
    EXPIRED_SEEN.inc(expired)
    return envelope({"integrations": [contract_json(item) for item in items]})


@bp.post("/integrations/connect/<provider>")
def connect(provider: str) -> Any:
    user_id = signed_in().user_id
    result = integrations.connect(
        user_id, provider, _body(), oauth.callback_url(provider), now=utcnow()
    )
    if isinstance(result, SignIn):
        body, status = envelope({"authorizationUrl": result.url})
        return body, status, {"HX-Redirect": result.url} if is_htmx() else {}
    return envelope({"integration": contract_json(result.item)}, 201 if result.created else 200)


@bp.get("/integrations/callback/<provider>")
def callback(provider: str) -> Any:
    """Where the provider sends the creator back; always ends on the integrations page."""
    args = request.args
    known = {"provider": provider} if provider in REGISTRY else {}
    try:
        integrations.complete_connection(
            signed_in().user_id,
            provider,
            args.get("code", ""),
            args.get("state", ""),
            args.get("error", ""),
            now=utcnow(),
        )
    except oauth.ConnectFailed as failed:
        return _to_page(error=failed.reason, **known)
    except ApiError as err:
        return _to_page(error=messages.key_for(err.code), **known)
    return _to_page(connected=provider)


@bp.errorhandler(RateLimitExceeded)
def refused_by_limit(err: RateLimitExceeded) -> Any:
    """The callback is a browser's navigation: it lands on the page, not on a JSON 429."""
    if request.endpoint == "api.callback":
        known = request.view_args or {}
        provider = known.get("provider", "")
        page = _to_page(
            error="rate_limited", **({"provider": provider} if provider in REGISTRY else {})
        )
        page.headers.update(http.retry_after(ratelimit.seconds_to_reset()))
        return page
    return http.rate_limited(err)


@bp.post("/integrations/refresh/<provider>/<path:account_id>")
def refresh(provider: str, account_id: str) -> Any:
    user_id = signed_in().user_id
    item = integrations.refresh_now(user_id, provider, _segment(account_id), now=utcnow())
    return envelope({"integration": contract_json(item)})


@bp.delete("/integrations/disconnect/<provider>/<path:account_id>")
def disconnect(provider: str, account_id: str) -> Any:
    user_id = signed_in().user_id
    account_id = _segment(account_id)
    integrations.disconnect(user_id, provider, account_id, now=utcnow())
    return envelope({"disconnected": {"provider": provider, "accountId": account_id}})


def _to_page(**outcome: str) -> Any:
    # Only known words travel in the query: the page turns them into messages.
    return redirect(f"{PAGE_PATH}?{urlencode(outcome)}", code=303)


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
        raise not_found()
    return account_id
