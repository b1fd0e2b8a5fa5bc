"""Instagram API with Instagram Login: short-lived code exchange, long-lived tokens that
refresh themselves while valid (there is no separate refresh token), no revocation API.

From Meta's Business Login for Instagram page, its Refresh Access Token and Me references, and
the Graph API's Handling Errors guide (developers.facebook.com/docs/graph-api/guides/
error-handling) for what each error code means.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .base import Account, Budget, Grant, HttpProvider, TokenSet, seconds
from .errors import ClientRejected, ProviderError, ProviderUnavailable, ReauthRequired
from .outbound import json_body

AUTHORIZE = "https://www.instagram.com/oauth/authorize"
TOKEN = "https://api.instagram.com/oauth/access_token"
GRAPH = "https://graph.instagram.com"  # every call here names the pinned Graph API version
LONG_LIVED = "/access_token"
REFRESH = "/refresh_access_token"
ME = "/me"
SCOPES = "instagram_business_basic,instagram_business_content_publish"
EXPIRED_TOKEN_CODE = 190  # OAuthException: the token is expired, revoked or invalid
INVALID_CLIENT_CODE = 101  # the app itself (its client id) is not valid
# 1 "API Unknown, possibly temporary" and 2 "API Service": wait and retry; 4, 17, 32 and 613
# are rate limits. None of them says anything about the grant or our client.
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 613})
# The one answer about our secret; only a call that sent the secret can get it.
SECRET_REFUSED = "error validating client secret"


class Instagram(HttpProvider):
    def authorization_url(self, state: str, redirect_uri: str) -> str:
        query = {
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPES,
            "state": state,
            "enable_fb_login": "0",
            # The creator signs in to the account they mean to connect, not whichever
            # Instagram session the browser happens to hold.
            "force_authentication": "1",
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
            raise _error(json_body(response), "code exchange failed", sent_secret=True)
        long_lived = self._get(
            LONG_LIVED,
            {
                "grant_type": "ig_exchange_token",
                "client_secret": self.settings.client_secret,
                "access_token": body["access_token"],
            },
            sent_secret=True,
        )
        # The exchange's user_id is the Instagram-scoped id, kept as one of the account's ids.
        return _tokens(long_lived, account_id=_string(body.get("user_id")))

    def fetch_account(self, tokens: TokenSet) -> Account:
        body = self._get(ME, {"fields": "user_id,username", "access_token": tokens.access_token})
        account_id = _string(body.get("user_id")) or tokens.account_id
        if not account_id:
            raise ProviderError("instagram returned no user id")
        # /me's id is app-scoped, what Meta's signed requests carry; the exchange gave another.
        others = (_string(body.get("id")), tokens.account_id)
        aliases = tuple(dict.fromkeys(i for i in others if i and i != account_id))
        return Account(
            id=account_id, name=f"@{body.get('username') or account_id}", aliases=aliases
        )

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

    def revoke(self, grant: Grant, now: datetime) -> None:
        """Instagram Login offers no token revocation; deleting our copy is all we can do."""

    def verify(self, access_token: str) -> Budget:
        self._get(ME, {"fields": "user_id", "access_token": access_token})
        return Budget()

    def _get(
        self, path: str, params: dict[str, str], *, sent_secret: bool = False
    ) -> dict[str, Any]:
        version = self.settings.api_version
        url = self._url(f"{GRAPH}/{version}{path}" if version else f"{GRAPH}{path}")
        response = self.http.request("GET", url, params=params)
        body = json_body(response)
        if response.status_code != 200 or "error" in body:
            raise _error(body, f"{path.lstrip('/')} failed", sent_secret=sent_secret)
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
    return TokenSet(
        access_token=token, expires_in=seconds(body.get("expires_in")), account_id=account_id
    )


def _error(body: dict[str, Any], message: str, *, sent_secret: bool = False) -> ProviderError:
    # The Graph API's {"error": {code, message}}, or api.instagram.com's flat error_message.
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else body.get("code")
    text = error.get("message") if isinstance(error, dict) else body.get("error_message")
    about_secret = isinstance(text, str) and SECRET_REFUSED in text.lower()
    if code == EXPIRED_TOKEN_CODE:
        return ReauthRequired("oauth_190")
    if code == INVALID_CLIENT_CODE or (sent_secret and about_secret):
        return ClientRejected(f"instagram: {message} (code {code})")
    if code in TRANSIENT_CODES:
        return ProviderUnavailable(f"instagram: {message} (code {code})")
    return ProviderError(message)


def _string(value: object) -> str | None:
    # Account ids stay strings even when a provider sends them as JSON numbers.
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, (int, str)) and str(value) else None
