"""TikTok Login Kit v2: `client_key`, optional PKCE, rotating refresh tokens, revocation.

Sources: TikTok for Developers, "Manage User Access Tokens" (developers.tiktok.com/doc/
oauth-user-access-token-management: the token answer, lifetimes, rotation), "Revoke a User
Access Token" (.../docs/en/oauth-revoke-a-user-access-token), the OAuth and API v2 error pages
(.../doc/oauth-error-handling, .../doc/tiktok-api-v2-error-handling).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, Literal

from .base import ProviderStandIn, Route
from .ledger import IssuedToken, log_id
from .wire import RecordedRequest, Response, json_response

ACCESS_LIFETIME = 7200  # current docs: 2 hours (older docs said 24 h)
REFRESH_LIFETIME = 15552000  # current docs: 180 days (older docs said 365)
CODE_PROBLEMS = {
    "unknown": "Authorization code is invalid.",
    "used": "Authorization code has been used.",
    "expired": "Authorization code is expired.",
    "redirect_mismatch": "redirect_uri does not match the one used to request the code.",
}


class TikTokStandIn(ProviderStandIn):
    """Each refresh returns a new refresh token and retires the one sent, as documented."""

    name = "tiktok"
    default_client_id = "awstandinclientkey01"
    default_client_secret = "tiktok-standin-secret"
    default_account_id = "-000StandInOpenId-7e1c"
    default_account_name = "tiktok_creator"
    authorize_path = "/v2/auth/authorize/"
    client_param = "client_key"
    default_scope = "user.info.basic"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # rotate: a new refresh token, the old one dies (documented); same: the one sent comes
        # back; empty: "refresh_token": "" (a store must never overwrite a token with that).
        self.refresh_token_mode: Literal["rotate", "same", "empty"] = "rotate"
        self.token_error_status = 400
        self.access_lifetime: float = ACCESS_LIFETIME
        self.refresh_lifetime: float = REFRESH_LIFETIME

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/v2/auth/authorize/"): self._authorize,
            ("POST", "/v2/oauth/token/"): self._token,
            ("GET", "/v2/user/info/"): self._user_info,
            ("POST", "/v2/oauth/revoke/"): self._revoke,
        }

    def new_code(self) -> str:
        # Real codes carry characters such as * and ! that must be URL-decoded, not mangled.
        return f"{secrets.token_urlsafe(24)}*0!{secrets.randbelow(9000) + 1000}"

    def authorize_problem(self, query: dict[str, str]) -> tuple[str, str] | None:
        if query.get("code_challenge") and query.get("code_challenge_method") != "S256":
            return "invalid_request", "code_challenge_method must be S256"
        return super().authorize_problem(query)

    def _token(self, request: RecordedRequest) -> Response:
        form = request.form
        if not self._client_ok(form):
            return self._error("invalid_client", "Client key or secret is incorrect.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return self._error("unsupported_grant_type", f"Unsupported grant_type: {grant_type}")

    def _exchange_code(self, form: dict[str, str]) -> Response:
        pending = self.ledger.codes.get(form.get("code", ""))
        challenge = pending.params.get("code_challenge") if pending else None
        if challenge and not _pkce_matches(challenge, form.get("code_verifier", "")):
            return self._error("invalid_request", "Code verifier or code challenge is invalid.")
        code, problem = self.ledger.redeem(form.get("code", ""), form.get("redirect_uri", ""))
        if code is None:
            return self._error("invalid_grant", CODE_PROBLEMS[problem])
        grant, scope = self.ledger.new_grant(), code.scope
        access = self._issue_access(grant, scope)
        refresh = self.ledger.issue(
            "refresh",
            grant=grant,
            scope=scope,
            expires_at=self.ledger.now() + self.refresh_lifetime,
            prefix="rft.",
        )
        return self._token_answer(access, refresh, refresh.value)

    def _refresh(self, form: dict[str, str]) -> Response:
        old, state = self.ledger.lookup(form.get("refresh_token", ""), "refresh")
        if old is None or state != "valid":
            # OAuth error page: invalid_grant for a refresh token "invalid, expired, revoked".
            return self._error("invalid_grant", "Refresh token is invalid or expired.")
        access = self._issue_access(old.grant, old.scope)
        if self.refresh_token_mode == "rotate":
            old.revoked = True
            new = self.ledger.issue(
                "refresh",
                grant=old.grant,
                scope=old.scope,
                expires_at=old.expires_at,
                prefix="rft.",
            )
            return self._token_answer(access, new, new.value)
        return self._token_answer(
            access, old, old.value if self.refresh_token_mode == "same" else ""
        )

    def _issue_access(self, grant: int, scope: str) -> IssuedToken:
        expires_at = self.ledger.now() + self.access_lifetime
        return self.ledger.issue(
            "access", grant=grant, scope=scope, expires_at=expires_at, prefix="act."
        )

    def _token_answer(self, access: IssuedToken, refresh: IssuedToken, sent: str) -> Response:
        return json_response(
            200,
            {
                "access_token": access.value,
                "expires_in": self.ledger.seconds_left(access),
                "open_id": self.account_id,
                "refresh_expires_in": self.ledger.seconds_left(refresh),
                "refresh_token": sent,
                "scope": access.scope,
                "token_type": "Bearer",
            },
        )

    def _user_info(self, request: RecordedRequest) -> Response:
        token, state = self.ledger.lookup(request.bearer or "", "access")
        if token is None or state != "valid":
            # API v2 error page: 401 access_token_invalid, "Please refresh the token and retry."
            message = "The access token is invalid or not found in the request."
            return _api_error(401, "access_token_invalid", message)
        if "user.info.basic" not in token.scope.split(","):
            return _api_error(401, "scope_not_authorized", "The user did not authorize the scope.")
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        if not fields:
            return _api_error(400, "invalid_params", "fields is required")
        user = {
            "open_id": self.account_id,
            "union_id": f"union-{self.account_id}",
            "display_name": self.account_name,
            "avatar_url": "https://p16-sign.tiktokcdn.com/standin-avatar.jpeg",
        }
        body = {"user": {f: user[f] for f in fields if f in user}}
        return json_response(
            200, {"data": body, "error": {"code": "ok", "message": "", "log_id": log_id()}}
        )

    def _revoke(self, request: RecordedRequest) -> Response:
        form = request.form
        if not self._client_ok(form):
            return self._error("invalid_client", "Client key or secret is incorrect.")
        token, state = self.ledger.lookup(form.get("token", ""), "access")
        if token is None or state != "valid":
            # The revoke page takes "the user access token to revoke"; a dead one revokes
            # nothing. Its error body is not shown there: this is the OAuth error struct.
            return self._error("invalid_request", "The access token is invalid or expired.")
        self.ledger.revoke_grant(token.grant)  # disconnects the app: every token of the grant
        return json_response(200, {})  # "A successful request returns an empty response body"

    def _client_ok(self, form: dict[str, str]) -> bool:
        return (form.get("client_key"), form.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )

    def _error(self, error: str, description: str) -> Response:
        payload = {"error": error, "error_description": description, "log_id": log_id()}
        return json_response(self.token_error_status, payload)


def _api_error(status: int, code: str, message: str) -> Response:
    """The v2 API's envelope (user info), unlike the OAuth endpoints' flat error."""
    return json_response(
        status, {"data": {}, "error": {"code": code, "message": message, "log_id": log_id()}}
    )


def _pkce_matches(challenge: str, verifier: str) -> bool:
    """S256 as RFC 7636 encodes it (base64url), or hex as TikTok's desktop guide shows."""
    digest = hashlib.sha256(verifier.encode()).digest()
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return bool(verifier) and challenge in (encoded, digest.hex())
