"""Instagram API with Instagram Login: www.instagram.com, api.instagram.com and
graph.instagram.com on one server (the service swaps only scheme and host)."""

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
    default_account_id = "17841400000000042"  # above 2**53, as real ids are: keep them strings
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
        # The documented rule that a token must be 24 h old to refresh; 0 switches it off.
        self.refresh_min_age: float = 0.0

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
                "user_id": self.account_id,
                "permissions": ",".join(permissions),
            }
            return json_response(200, {"data": [entry]})
        payload = {
            "access_token": token.value,
            "user_id": int(self.account_id),
            "permissions": permissions,
        }
        return json_response(200, payload)

    def _exchange_for_long_lived(self, request: RecordedRequest) -> Response:
        query = request.query
        if query.get("grant_type") != "ig_exchange_token":
            return _oauth_error("Unsupported grant_type", code=100)
        if query.get("client_secret") != self.client_secret:
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
            # Wording and code are our approximation; the documented rule is the 24 h age.
            return _oauth_error("The access token must be at least 24 hours old", code=100)
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
            "id": self.account_id,
            "user_id": self.account_id,
            "username": self.account_name,
            "name": self.account_name,
            "account_type": "BUSINESS",
        }
        fields = [f for f in request.query.get("fields", "id").split(",") if f]
        return json_response(
            200, {"id": self.account_id} | {f: profile[f] for f in fields if f in profile}
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


def _oauth_error(message: str, *, code: int, subcode: int | None = None) -> Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = fbtrace_id()
    return json_response(400, {"error": error})


def _api_error(message: str) -> Response:
    """api.instagram.com's own error shape (code exchange), unlike the Graph API's."""
    return json_response(
        400, {"error_type": "OAuthException", "code": 400, "error_message": message}
    )
