"""Instagram API with Instagram Login: short-lived code exchange, long-lived tokens that
refresh themselves while valid (there is no separate refresh token), no revocation API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .base import Account, Budget, Grant, HttpProvider, TokenSet
from .errors import ClientRejected, ProviderError, ReauthRequired
from .outbound import json_body

AUTHORIZE = "https://www.instagram.com/oauth/authorize"
TOKEN = "https://api.instagram.com/oauth/access_token"
LONG_LIVED = "https://graph.instagram.com/access_token"
REFRESH = "https://graph.instagram.com/refresh_access_token"
ME = "https://graph.instagram.com/me"
SCOPES = "instagram_business_basic,instagram_business_content_publish"
EXPIRED_TOKEN_CODE = 190  # OAuthException: the token is expired, revoked or invalid
# "Error validating client secret" (1) and "Error validating application" (101).
CLIENT_ERROR_CODES = frozenset({1, 101})


class Instagram(HttpProvider):
    def authorization_url(self, state: str, redirect_uri: str) -> str:
        query = {
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPES,
            "state": state,
            "enable_fb_login": "0",
        }
        return f"{self._url(AUTHORIZE)}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        response = self.http.request(
            "POST",
            self._url(TOKEN),
            data={
                "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        body = _short_lived(json_body(response))
        if response.status_code != 200 or "access_token" not in body:
            raise _error(json_body(response), "code exchange failed")
        long_lived = self._get(
            LONG_LIVED,
            {
                "grant_type": "ig_exchange_token",
                "client_secret": self.settings.client_secret,
                "access_token": body["access_token"],
            },
        )
        return _tokens(long_lived, account_id=_string(body.get("user_id")))

    def fetch_account(self, tokens: TokenSet) -> Account:
        body = self._get(ME, {"fields": "user_id,username", "access_token": tokens.access_token})
        account_id = _string(body.get("user_id")) or tokens.account_id
        if not account_id:
            raise ProviderError("instagram returned no user id")
        return Account(id=account_id, name=f"@{body.get('username') or account_id}")

    def renewable(self, grant: Grant, now: datetime) -> bool:
        # The long-lived token renews itself only while it is valid; once expired, it is dead.
        return bool(grant.access_token) and (grant.expires_at is None or grant.expires_at > now)

    def refresh(self, grant: Grant, now: datetime) -> TokenSet:
        if not self.renewable(grant, now) or grant.access_token is None:
            raise ReauthRequired("token_expired", revoked=False)
        body = self._get(
            REFRESH, {"grant_type": "ig_refresh_token", "access_token": grant.access_token}
        )
        return _tokens(body, account_id=None)

    def revoke(self, access_token: str | None, refresh_token: str | None) -> None:
        """Instagram Login offers no token revocation; deleting our copy is all we can do."""

    def verify(self, access_token: str) -> Budget:
        self._get(ME, {"fields": "user_id", "access_token": access_token})
        return Budget()

    def _get(self, documented: str, params: dict[str, str]) -> dict[str, Any]:
        response = self.http.request("GET", self._url(documented), params=params)
        body = json_body(response)
        if response.status_code != 200 or "error" in body:
            raise _error(body, f"{documented.rsplit('/', 1)[-1]} failed")
        return body


def _short_lived(body: dict[str, Any]) -> dict[str, Any]:
    # Documented inside a `data` array; the live API has answered at the top level.
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0]
    return body


def _tokens(body: dict[str, Any], account_id: str | None) -> TokenSet:
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ProviderError("instagram returned no access token")
    expires_in = body.get("expires_in")
    return TokenSet(
        access_token=token,
        expires_in=expires_in if isinstance(expires_in, int) else None,
        account_id=account_id,
    )


def _error(body: dict[str, Any], message: str) -> ProviderError:
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else body.get("code")
    if code == EXPIRED_TOKEN_CODE:
        return ReauthRequired("oauth_190")
    if code in CLIENT_ERROR_CODES:
        return ClientRejected(f"instagram: {message} (code {code})")
    return ProviderError(message)


def _string(value: object) -> str | None:
    # Account ids stay strings even when a provider sends them as JSON numbers.
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, (int, str)) and str(value) else None
