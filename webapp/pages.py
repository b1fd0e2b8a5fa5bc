"""The integrations page: the same service as the API, rendered by Jinja2 and made live by HTMX.

Every action answers HTMX with a fragment and a plain form with a 303 redirect, so the page
works with and without JavaScript.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.wrappers import Response
from flask_limiter import RateLimitExceeded
from werkzeug.wrappers import Response as BaseResponse

from . import integrations, oauth
from .api import callback_url
from .auth import current_user_id
from .csrf import check_request, token_for_request
from .errors import ApiError
from .providers import ALL_PROVIDERS
from .timeutil import iso_z, utcnow

bp = Blueprint("pages", __name__)

PROVIDER_NAMES = {
    "instagram": "Instagram",
    "tiktok": "TikTok",
    "reddit": "Reddit",
    "onlyfans": "OnlyFans",
}
MESSAGES = {
    "connected": ("success", "{provider} is connected."),
    "refreshed": ("success", "{provider} is reconnected."),
    "disconnected": ("success", "{provider} is disconnected."),
    "state_invalid": (
        "error",
        "That connection attempt expired or was already used. Please connect {provider} again.",
    ),
    "access_denied": ("error", "{provider} did not grant access. Nothing was changed."),
    "provider_error": ("error", "{provider} could not complete the connection. Please try again."),
    "provider_unavailable": (
        "error",
        "{provider} is not responding right now. Please try again in a few minutes.",
    ),
    "invalid_provider": ("error", "That provider is not available."),
    "not_found": ("error", "That account is no longer connected."),
    "signed_out": ("error", "Your session has ended. Please sign in again."),
    "rate_limited": ("error", "Too many requests. Please wait a moment and try again."),
    "forbidden": ("error", "This request was refused. Please reload the page and try again."),
    "unavailable": ("error", "Something went wrong on our side. Please try again in a minute."),
}
# The API names fields as JSON does; the page as its labels do.
FIELD_LABELS = {"accountId": "Account ID", "accountName": "Account name", "apiKey": "API key"}
ERROR_MESSAGES = {
    "UNAUTHORIZED": "signed_out",
    "INVALID_USER_ID": "signed_out",
    "RATE_LIMIT_EXCEEDED": "rate_limited",
    "PROVIDER_UNAVAILABLE": "provider_unavailable",
    "INVALID_PROVIDER": "invalid_provider",
    "NOT_FOUND": "not_found",
    "FORBIDDEN": "forbidden",
}


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def message(key: str, provider: str | None = None) -> dict[str, str] | None:
    """A known message, filled with a provider's display name; None for unknown keys."""
    if key not in MESSAGES:
        return None
    kind, text = MESSAGES[key]
    name = PROVIDER_NAMES.get(provider or "", "The provider")
    return {"kind": kind, "text": text.format(provider=name), "key": key}


def relative_expiry(expires_at: datetime | None, now: datetime) -> str:
    """`expires in 12 days`, `expired 3 hours ago`, `no expiry`."""
    if expires_at is None:
        return "no expiry"
    seconds = (expires_at - now).total_seconds()
    span = _span(abs(seconds))
    return f"expires in {span}" if seconds > 0 else f"expired {span} ago"


def _span(seconds: float) -> str:
    for unit, size, until in (("minute", 60, 60), ("hour", 3600, 48), ("day", 86400, None)):
        count = int(seconds // size)
        if seconds < 60:
            return "less than a minute"
        if until is None or count < until:
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("unreachable")


@bp.before_request
def refuse_cross_site() -> None:
    check_request(always_require_token=True)


@bp.app_context_processor
def page_helpers() -> dict[str, Any]:
    return {"provider_names": PROVIDER_NAMES, "iso_z": iso_z, "relative_expiry": relative_expiry}


@bp.get("/")
def home() -> BaseResponse:
    return redirect(url_for("pages.integrations_page"))


@bp.get("/integrations")
def integrations_page() -> Any:
    try:
        user_id = current_user_id()
    except ApiError as err:
        if err.code in ("UNAUTHORIZED", "INVALID_USER_ID") and not is_htmx():
            return redirect(sign_in_url())
        raise
    items = integrations.list_for_user(user_id, utcnow())
    if is_htmx():
        response = _render("partials/_list.html", items=items)
    else:
        notes = [
            message(key, request.args[key])
            for key in ("connected", "refreshed", "disconnected")
            if key in request.args
        ]
        notes.append(message(request.args.get("error", ""), request.args.get("provider")))
        response = _render(
            "integrations.html",
            items=items,
            messages=[n for n in notes if n],
            form_errors={},
            form_values={},
        )
    response.vary.add("HX-Request")
    return response


@bp.post("/integrations/connect/<provider>")
def connect(provider: str) -> Any:
    user_id = current_user_id()
    if provider == "onlyfans":
        return _connect_onlyfans(user_id)
    url = oauth.start(user_id, provider, callback_url(provider), utcnow())
    return _go_to(url)


@bp.post("/integrations/<provider>/<account_id>/reconnect")
def reconnect(provider: str, account_id: str) -> Any:
    """Refresh first; when the grant is dead, send the creator through OAuth again."""
    user_id = current_user_id()
    now = utcnow()
    try:
        item = integrations.refresh_now(user_id, provider, account_id, now)
    except ApiError as err:
        if err.code != "REAUTH_REQUIRED":
            raise
        return _go_to(oauth.start(user_id, provider, callback_url(provider), now))
    if not is_htmx():
        return _back(refreshed=provider)
    return _render(
        "partials/_card.html", item=item, now=now, oob_message=message("refreshed", provider)
    )


@bp.route("/integrations/<provider>/<account_id>/disconnect", methods=["POST", "DELETE"])
def disconnect(provider: str, account_id: str) -> Any:
    integrations.disconnect(current_user_id(), provider, account_id)
    if not is_htmx():
        return _back(disconnected=provider)
    return _render("partials/_message.html", oob=True, note=message("disconnected", provider))


def _connect_onlyfans(user_id: int) -> Any:
    form = request.form.to_dict()
    try:
        fields = integrations.api_key_fields(form)
    except ApiError as err:
        values = {k: v for k, v in form.items() if k in ("accountId", "accountName")}
        field = err.field or "form"
        errors = {field: err.message.replace(field, FIELD_LABELS.get(field, field), 1)}
        if is_htmx():
            return _render(
                "partials/_onlyfans_form.html", form_errors=errors, form_values=values
            ), 422
        items = integrations.list_for_user(user_id, utcnow())
        return _render(
            "integrations.html", items=items, messages=[], form_errors=errors, form_values=values
        ), 422
    integrations.connect_api_key(user_id, *fields, now=utcnow())
    if not is_htmx():
        return _back(connected="onlyfans")
    items = integrations.list_for_user(user_id, utcnow())
    response = _render(
        "partials/_list.html",
        items=items,
        oob_form=True,
        oob_message=message("connected", "onlyfans"),
    )
    response.headers["HX-Retarget"] = "#integration-list"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


@bp.errorhandler(ApiError)
def api_error(err: ApiError) -> Any:
    key = ERROR_MESSAGES.get(err.code, "unavailable")
    return _error_message(key, err.status, err.retry_after)


@bp.errorhandler(RateLimitExceeded)
def rate_limited(err: RateLimitExceeded) -> Any:
    return _error_message("rate_limited", 429, None)


def _error_message(key: str, status: int, retry_after: int | None) -> Any:
    provider = request.view_args.get("provider") if request.view_args else None
    note = message(key, provider)
    if retry_after is not None:
        g.retry_after = retry_after
    if is_htmx():
        response = _render("partials/_message.html", note=note, sign_in=sign_in_url())
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
        return response, status
    if request.method == "GET":
        return _render(
            "integrations.html",
            items=[],
            messages=[note],
            form_errors={},
            form_values={},
            unavailable=True,
        ), status
    return _back(error=key, **({"provider": provider} if provider else {}))


def _go_to(url: str) -> BaseResponse:
    """Send the browser to a provider: HX-Redirect for HTMX, 303 for a plain form."""
    if is_htmx():
        response = Response(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def _back(**outcome: str) -> BaseResponse:
    return redirect(f"{url_for('pages.integrations_page')}?{urlencode(outcome)}", code=303)


def _render(template: str, **context: Any) -> Response:
    context.setdefault("now", utcnow())
    context.setdefault("csrf_token", token_for_request())
    context.setdefault(
        "connectable",
        [p for p in ALL_PROVIDERS if p in current_app.extensions["providers"] or p == "onlyfans"],
    )
    return Response(render_template(template, **context), mimetype="text/html")


def page_csp(provider_clients: dict[str, Any]) -> str:
    """No inline script or style; forms may only go here and to the providers' sign-in pages."""
    form_targets = sorted(
        {_origin(client.authorization_url("x", "x")) for client in provider_clients.values()}
    )
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action " + " ".join(["'self'", *form_targets]),
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def sign_in_url() -> str:
    """NextAuth's sign-in page, coming back to this page afterwards."""
    base = current_app.config["PUBLIC_BASE_URL"]
    here = f"{base}{request.path}" if base else request.base_url
    here = here.rsplit("/integrations", 1)[0] + "/integrations"
    query = urlencode({"callbackUrl": here})
    return f"{current_app.config['NEXTAUTH_URL']}/api/auth/signin?{query}"
