"""Refuses state-changing requests from other sites: Origin and Fetch Metadata checks, plus
a token bound to the NextAuth session for requests a foreign page could forge (forms, HTMX)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from flask import current_app, request

from ..errors import forbidden
from ..identity import caller
from .http import is_htmx

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Content types a cross-site <form> can send without a CORS preflight.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
TOKEN_HEADER = "X-CSRF-Token"
TOKEN_FIELD = "csrf_token"


def token_for_request() -> str | None:
    """The CSRF token of the caller's session, for pages to embed; None when signed out.

    Bound to what names the session rather than to the cookie's bytes, which NextAuth
    re-issues whenever the Next.js app reads the session.
    """
    identity = caller()
    if identity is None:
        return None
    key = hmac.new(
        current_app.config["NEXTAUTH_SECRETS"][0].encode(), b"csrf-token-key", hashlib.sha256
    ).digest()
    digest = hmac.new(key, identity.session_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def check_request(*, always_require_token: bool = False) -> None:
    """Raise FORBIDDEN for a state-changing request that another site could have made.

    JSON API clients are covered by the Origin checks (a foreign page cannot send JSON
    without CORS); form and HTMX requests, and every page action, also need the token.
    """
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise forbidden()
    origin = request.headers.get("Origin")
    if origin is not None and origin not in _allowed_origins():
        raise forbidden()
    if always_require_token or request.mimetype in FORM_TYPES or is_htmx():
        sent = request.headers.get(TOKEN_HEADER) or request.form.get(TOKEN_FIELD, "")
        expected = token_for_request()
        if expected is None or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise forbidden()


def _allowed_origins() -> set[str]:
    own = urlsplit(request.host_url)
    return {f"{own.scheme}://{own.netloc}", *current_app.config["ALLOWED_ORIGINS"]}
