"""The integrations page: the same service as the API, rendered by Jinja2 and made live by HTMX.

Every action answers HTMX with a fragment and a plain form with a 303 redirect, so the page
works with and without JavaScript.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.wrappers import Response
from flask_limiter import RateLimitExceeded
from werkzeug.wrappers import Response as BaseResponse

from .. import integrations
from ..config import origin
from ..errors import ApiError
from ..identity import signed_in
from ..integrations import IntegrationStatus, SignIn, oauth
from ..providers import OAUTH, REGISTRY, clients, display_name
from ..timeutil import iso_z, utcnow
from . import messages, ratelimit
from .csrf import check_request, token_for_request
from .http import is_htmx
from .http import retry_after as retry_after_header
from .messages import expired_why, message, relative_expiry, renew_before, shown_time

bp = Blueprint("pages", __name__)

# A page visit with these is sent to sign in; an action gets the "signed out" message.
SIGNED_OUT = ("UNAUTHORIZED", "INVALID_USER_ID")
# The API names fields as JSON does; the page as its labels do.
FIELD_LABELS = {"accountId": "Account ID", "accountName": "Account name", "apiKey": "API key"}


@bp.before_request
def refuse_cross_site() -> None:
    check_request(always_require_token=True)


@bp.app_context_processor
def page_helpers() -> dict[str, Any]:
    return {
        "display_name": display_name,
        "expired_why": expired_why,
        "iso_z": iso_z,
        "relative_expiry": relative_expiry,
        "renew_before": renew_before,
        "shown_time": shown_time,
        "signs_in_at": signs_in_at,
    }


def signs_in_at(provider: str) -> bool:
    """Connected through the provider's own sign-in (a Connect button), not a pasted key."""
    return REGISTRY[provider].kind == OAUTH


@bp.get("/")
def home() -> BaseResponse:
    return redirect(url_for("pages.integrations_page"))


@bp.get("/integrations")
def integrations_page() -> Any:
    identity = signed_in()  # signed out: sent to NextAuth's sign-in page (api_error below)
    now = utcnow()
    items = integrations.list_for_user(identity.user_id, now)
    if is_htmx():
        response = _list_changed("partials/_list.html", items, now)
    else:
        response = _render(
            "integrations.html",
            items=items,
            now=now,
            messages=_page_messages(identity.user_id),
            form_errors={},
            form_values={},
        )
    response.vary.add("HX-Request")
    return response


def _page_messages(user_id: int) -> list[dict[str, str]]:
    """What a full load says: the outcome in the address, then what changed elsewhere (once)."""
    notes = [
        message(key, request.args[key])
        for key in ("connected", "refreshed", "disconnected")
        if key in request.args
    ]
    notes.append(message(request.args.get("error", ""), request.args.get("provider")))
    notes += [message(key, provider) for key, provider in integrations.take_notices(user_id)]
    return [note for note in notes if note]


@bp.post("/integrations/connect/<provider>")
def connect(provider: str) -> Any:
    user_id = signed_in().user_id
    form = request.form.to_dict()
    try:
        result = integrations.connect(
            user_id, provider, form, oauth.callback_url(provider), utcnow()
        )
    except ApiError as err:
        if err.code != "VALIDATION_ERROR" or not err.fields:
            raise
        return _onlyfans_form_errors(user_id, form, err.fields)
    if isinstance(result, SignIn):
        return _go_to(result.url)
    if not is_htmx():
        return _back(connected=provider)
    now = utcnow()
    response = _list_changed(
        "partials/_list.html",
        integrations.list_for_user(user_id, now),
        now,
        oob_form=True,
        oob_message=message("connected", provider),
    )
    response.headers["HX-Retarget"] = "#integration-list"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


@bp.post("/integrations/<provider>/<account_id>/reconnect")
def reconnect(provider: str, account_id: str) -> Any:
    """Refresh in place; when that cannot work, the service sends the creator to OAuth."""
    now = utcnow()
    user_id = signed_in().user_id
    result = integrations.reconnect(
        user_id, provider, account_id, oauth.callback_url(provider), now
    )
    if isinstance(result, SignIn):
        return _go_to(result.url)
    outcome = "connected" if result.fresh else "refreshed"  # fresh: it already works
    if not is_htmx():
        return _back(**{outcome: provider})
    return _list_changed(
        "partials/_card.html",
        integrations.list_for_user(user_id, now),
        now,
        item=result.item,
        oob_message=message(outcome, provider),
    )


@bp.route("/integrations/<provider>/<account_id>/disconnect", methods=["POST", "DELETE"])
def disconnect(provider: str, account_id: str) -> Any:
    user_id, now = signed_in().user_id, utcnow()
    integrations.disconnect(user_id, provider, account_id, now)
    if not is_htmx():
        return _back(disconnected=provider)
    return _list_changed(
        None,  # the card's own swap, with nothing, removes it
        integrations.list_for_user(user_id, now),
        now,
        oob_message=message("disconnected", provider),
    )


def _onlyfans_form_errors(user_id: int, form: dict[str, str], bad: dict[str, str]) -> Any:
    """The OnlyFans form again, each bad field marked, and what was typed kept (not the key)."""
    values = {k: v for k, v in form.items() if k in ("accountId", "accountName")}
    errors = {
        field: text.replace(field, FIELD_LABELS.get(field, field), 1) for field, text in bad.items()
    }
    if is_htmx():
        return _render("partials/_onlyfans_form.html", form_errors=errors, form_values=values), 422
    items = integrations.list_for_user(user_id, utcnow())
    return _render(
        "integrations.html", items=items, messages=[], form_errors=errors, form_values=values
    ), 422


@bp.errorhandler(ApiError)
def api_error(err: ApiError) -> Any:
    if err.code in SIGNED_OUT and request.method == "GET" and not is_htmx():
        return redirect(sign_in_url())
    return _error_message(messages.key_for(err.code), err.status, err.retry_after)


@bp.errorhandler(RateLimitExceeded)
def rate_limited(err: RateLimitExceeded) -> Any:
    return _error_message("rate_limited", 429, ratelimit.seconds_to_reset())


def _error_message(key: str, status: int, retry_after: int | None) -> Any:
    provider = request.view_args.get("provider") if request.view_args else None
    note = message(key, provider)
    if is_htmx():
        response = _render("partials/_message.html", note=note, sign_in=sign_in_url())
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
        return response, status, retry_after_header(retry_after)
    if request.method == "GET":
        page = _render(
            "integrations.html",
            items=[],
            messages=[note],
            form_errors={},
            form_values={},
            unavailable=True,
        )
        return page, status, retry_after_header(retry_after)
    back = _back(error=key, **({"provider": provider} if provider else {}))
    back.headers.update(retry_after_header(retry_after))
    return back


def _list_changed(
    part: str | None, items: list[IntegrationStatus], now: datetime, **context: Any
) -> Response:
    """An HTMX answer that changed the list: `part` for its target, the summary out of band."""
    return _render("partials/_fragment.html", part=part, items=items, now=now, **context)


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
    context.setdefault("connectable", clients.connectable())
    return Response(render_template(template, **context), mimetype="text/html")


def page_csp(provider_clients: dict[str, Any]) -> str:
    """No inline script or style; forms may only go here and to the providers' sign-in pages."""
    form_targets = sorted(
        {origin(client.authorization_url("x", "x")) for client in provider_clients.values()}
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


def sign_in_url() -> str:
    """NextAuth's sign-in page, coming back to this page afterwards."""
    base = current_app.config["PUBLIC_BASE_URL"]
    here = f"{base}{request.path}" if base else request.base_url
    here = here.rsplit("/integrations", 1)[0] + "/integrations"
    query = urlencode({"callbackUrl": here})
    return f"{current_app.config['NEXTAUTH_URL']}/api/auth/signin?{query}"
