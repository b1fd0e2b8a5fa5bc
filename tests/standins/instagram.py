"""Instagram API with Instagram Login: www.instagram.com, api.instagram.com and
graph.instagram.com on one server (the service swaps only scheme and host).

Sources: Meta's Business Login for Instagram page (developers.facebook.com/docs/
instagram-platform/instagram-api-with-instagram-login/business-login), its Refresh Access Token
and Me references (.../instagram-platform/reference/refresh_access_token, .../reference/me),
and the Graph API's Handling Errors guide (developers.facebook.com/docs/graph-api/guides/
error-handling) for the error shape and codes.
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from .base import ProviderStandIn, Route
from .ledger import IssuedToken, TokenState, fbtrace_id
from .wire import RecordedRequest, Response, json_response

SHORT_LIVED = 3600  # about one hour
LONG_LIVED = 5183944  # about 60 days, the value Instagram's examples show
CODE_PROBLEMS = {
    "unknown": "Matching code was not found or was already used",
    "used": "This authorization code has been used",
    "expired": "This authorization code has expired",
    "redirect_mismatch": "Error validating verification code. Please make sure your "
    "redirect_uri is identical to the one you used in the OAuth dialog request",
}
VERSION_PREFIX = re.compile(r"^/v\d+\.\d+(?=/)")


class InstagramStandIn(ProviderStandIn):
    """Short-lived token from the code, a 60-day token from it, self-refreshing while valid."""

    name = "instagram"
    default_client_id = "778899001122334"
    default_client_secret = "instagram-standin-secret"
    # Three ids name one account, and they differ: /me's `user_id` (the professional account
    # id, what the service shows), the code exchange's `user_id` ("Instagram-scoped", Business
    # Login page) and /me's `id` (app-scoped: what Meta's deletion-callback page says a signed
    # request carries). All above 2**53, as real ids are: keep them strings.
    default_account_id = "17841400000000042"
    default_instagram_scoped_id = "27012345678901234"
    default_app_scoped_id = "9912345678901234567"
    default_account_name = "creator_account"
    authorize_path = "/oauth/authorize"
    default_scope = "instagram_business_basic,instagram_business_content_publish"
    redirect_fragment = "_"  # Instagram appends #_ to the redirect; browsers drop it

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # "top_level": {access_token, user_id: <number>, permissions: [...]}, as the live API
        # answered (needs a numeric account_id); "data": {"data": [{..., user_id: "<string>"}]},
        # as the documentation shows.
        self.code_response_shape: Literal["top_level", "data"] = "top_level"
        self.instagram_scoped_id = self.default_instagram_scoped_id
        self.app_scoped_id = self.default_app_scoped_id
        # The Refresh Access Token reference: a long-lived token "at least 24 hours old".
        self.refresh_min_age: float = 24 * 3600

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/oauth/authorize"): self._authorize,
            ("POST", "/oauth/access_token"): self._exchange_code,
            ("GET", "/access_token"): self._exchange_for_long_lived,
            ("GET", "/refresh_access_token"): self._refresh,
            ("GET", "/me"): self._me,
        }

    def route_path(self, path: str) -> str:
        # graph.instagram.com also serves versioned paths such as /v23.0/me.
        return VERSION_PREFIX.sub("", path).rstrip("/") or "/"

    def authorize_rejected(self, reason: str) -> Response:
        return _api_error(f"Invalid request: {reason}")

    def denial_params(self, error: str, description: str) -> dict[str, str]:
        return {"error": error, "error_reason": "user_denied", "error_description": description}

    def _exchange_code(self, request: RecordedRequest) -> Response:
        form = request.form
        if form.get("client_id") != self.client_id:
            return _api_error("Invalid platform app")
        if form.get("client_secret") != self.client_secret:
            return _api_error("Error validating client secret.")
        if form.get("grant_type") != "authorization_code":
            return _api_error("Unsupported grant_type")
        code, problem = self.ledger.redeem(form.get("code", ""), form.get("redirect_uri", ""))
        if code is None:
            return _api_error(CODE_PROBLEMS[problem])
        token = self.ledger.issue(
            "access",
            grant=self.ledger.new_grant(),
            scope=code.scope,
            expires_at=self.ledger.now() + SHORT_LIVED,
            prefix="IGAA",
            variant="short",
        )
        permissions = [p for p in re.split(r"[,\s]+", code.scope) if p]
        if self.code_response_shape == "data":
            entry = {
                "access_token": token.value,
                "user_id": self.instagram_scoped_id,
                "permissions": ",".join(permissions),
            }
            return json_response(200, {"data": [entry]})
        payload = {
            "access_token": token.value,
            "user_id": int(self.instagram_scoped_id),
            "permissions": permissions,
        }
        return json_response(200, payload)

    def _exchange_for_long_lived(self, request: RecordedRequest) -> Response:
        query = request.query
        if query.get("grant_type") != "ig_exchange_token":
            return _oauth_error("Unsupported grant_type", code=100)
        if query.get("client_secret") != self.client_secret:
            # Code 1 with this message: the Graph API's answer to a call that sent a wrong
            # secret (the only calls that can get it).
            return _oauth_error("Error validating client secret.", code=1)
        token, state = self.ledger.lookup(query.get("access_token", ""), "access")
        if token is None or state != "valid" or token.variant != "short":
            return self._token_error(token, state if state != "valid" else "unknown")
        return self._long_lived_answer(token.grant, token.scope)

    def _refresh(self, request: RecordedRequest) -> Response:
        query = request.query
        if query.get("grant_type") != "ig_refresh_token":
            return _oauth_error("Unsupported grant_type", code=100)
        token, state = self.ledger.lookup(query.get("access_token", ""), "access")
        if token is None or state != "valid" or token.variant != "long":
            return self._token_error(token, state if state != "valid" else "unknown")
        if self.ledger.now() - token.issued_at < self.refresh_min_age:
            # Meta documents the rule, not its answer. This message is what the endpoint was
            # reported answering a refresh it would not do (stevenschobert/instafeed.js#654,
            # 2025-01-28); the code and type are the Graph API's for an unsupported request.
            return _oauth_error(
                "Unsupported request - method type: get", code=100, type_="IGApiException"
            )
        return self._long_lived_answer(token.grant, token.scope)

    def _long_lived_answer(self, grant: int, scope: str) -> Response:
        token = self.ledger.issue(
            "access",
            grant=grant,
            scope=scope,
            expires_at=self.ledger.now() + LONG_LIVED,
            prefix="IGAA",
            variant="long",
        )
        payload = {"access_token": token.value, "token_type": "bearer", "expires_in": LONG_LIVED}
        return json_response(200, payload)

    def _me(self, request: RecordedRequest) -> Response:
        token, state = self.ledger.lookup(request.query.get("access_token") or request.bearer or "")
        if state != "valid":
            return self._token_error(token, state)
        profile = {
            "id": self.app_scoped_id,
            "user_id": self.account_id,
            "username": self.account_name,
            "name": self.account_name,
            "account_type": "BUSINESS",
        }
        fields = [f for f in request.query.get("fields", "id").split(",") if f]
        # The Graph API always answers a node's `id`, asked for or not.
        return json_response(
            200, {"id": self.app_scoped_id} | {f: profile[f] for f in fields if f in profile}
        )

    def _token_error(self, token: IssuedToken | None, state: TokenState) -> Response:
        """The Graph API's OAuthException 190, worded by why the token is no good."""
        if state == "expired" and token is not None and token.expires_at is not None:
            expired = time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(token.expires_at))
            message = f"Error validating access token: Session has expired on {expired}."
            return _oauth_error(message, code=190, subcode=463)
        if state == "revoked":
            message = (
                "Error validating access token: "
                f"The user has not authorized application {self.client_id}."
            )
            return _oauth_error(message, code=190, subcode=458)
        return _oauth_error("Invalid OAuth access token - Cannot parse access token", code=190)


def _oauth_error(
    message: str, *, code: int, subcode: int | None = None, type_: str = "OAuthException"
) -> Response:
    """The Graph API's error shape (Handling Errors guide)."""
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = fbtrace_id()
    return json_response(400, {"error": error})


def _api_error(message: str) -> Response:
    """api.instagram.com's own error shape (code exchange), unlike the Graph API's: as the
    Business Login page shows it for a code that does not match."""
    return json_response(
        400, {"error_type": "OAuthException", "code": 400, "error_message": message}
    )
