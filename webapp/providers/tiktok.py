"""TikTok Login Kit v2: `client_key`, rotating refresh tokens that expire, revocation.

From TikTok for Developers: "Manage User Access Tokens" (refresh tokens rotate and last
`refresh_expires_in`, 180 days), "Revoke a User Access Token" (it takes the user's *access*
token), the OAuth error page (`invalid_grant`, `invalid_client`) and the API v2 error page
(`access_token_invalid`: "refresh the token and retry").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from requests import Response

from .base import Account, Budget, Grant, HttpProvider, TokenSet, oauth_tokens
from .errors import ClientRejected, ProviderError, ReauthRequired
from .outbound import json_body

AUTHORIZE = "https://www.tiktok.com/v2/auth/authorize/"
TOKEN = "https://open.tiktokapis.com/v2/oauth/token/"
REVOKE = "https://open.tiktokapis.com/v2/oauth/revoke/"
USER_INFO = "https://open.tiktokapis.com/v2/user/info/"
SCOPES = "user.info.basic"
# Documented answers that mean the creator's grant is dead (token endpoint, then the API).
DEAD_GRANT_ERROR = "invalid_grant"
DEAD_TOKEN_ERROR = "access_token_invalid"


class TikTok(HttpProvider):
    def authorization_url(self, state: str, redirect_uri: str) -> str:
        query = {
            "client_key": self.settings.client_id,
            "response_type": "code",
            "scope": SCOPES,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        return f"{self._url(AUTHORIZE)}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        return self._token(
            {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        )

    def refresh(self, grant: Grant, now: datetime) -> TokenSet:
        if not grant.refresh_token:
            raise ReauthRequired("no_refresh_token")
        if grant.refresh_expires_at is not None and grant.refresh_expires_at <= now:
            # Past its refresh_expires_in no refresh can work: not sent, the grant ran out.
            raise ReauthRequired("refresh_token_expired", revoked=False)
        return self._token({"grant_type": "refresh_token", "refresh_token": grant.refresh_token})

    def renewable(self, grant: Grant, now: datetime) -> bool:
        return grant.refresh_token is not None

    def fetch_account(self, tokens: TokenSet) -> Account:
        response = self._user_info(tokens.access_token, "open_id,display_name")
        body = json_body(response)
        user = body.get("data", {}).get("user", {}) if isinstance(body.get("data"), dict) else {}
        open_id = user.get("open_id") or tokens.account_id
        if response.status_code != 200 or not open_id:
            raise ProviderError("tiktok user info failed")
        return Account(id=str(open_id), name=f"@{user.get('display_name') or open_id}")

    def verify(self, access_token: str) -> Budget:
        response = self._user_info(access_token, "open_id")
        error = json_body(response).get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if code == DEAD_TOKEN_ERROR:
            raise ReauthRequired(DEAD_TOKEN_ERROR)
        if response.status_code != 200 or code not in (None, "ok"):
            raise ProviderError(f"tiktok user info failed: {code or response.status_code}")
        return Budget()

    def revoke(self, grant: Grant, now: datetime) -> None:
        access_token = grant.access_token
        if grant.expires_at is not None and grant.expires_at <= now:
            # Revocation takes a live access token: an expired one would revoke nothing.
            access_token = self.refresh(grant, now).access_token
        if access_token:
            self.http.request(
                "POST",
                self._url(REVOKE),
                data={
                    "client_key": self.settings.client_id,
                    "client_secret": self.settings.client_secret,
                    "token": access_token,
                },
            )

    def _user_info(self, access_token: str, fields: str) -> Response:
        return self.http.request(
            "GET",
            self._url(USER_INFO),
            params={"fields": fields},
            headers={"Authorization": f"Bearer {access_token}"},
        )

    def _token(self, grant: dict[str, str]) -> TokenSet:
        response = self.http.request(
            "POST",
            self._url(TOKEN),
            data={
                "client_key": self.settings.client_id,
                "client_secret": self.settings.client_secret,
                **grant,
            },
        )
        body = json_body(response)
        if response.status_code != 200 or body.get("error") or "access_token" not in body:
            raise _error(body)
        open_id = body.get("open_id")
        return oauth_tokens(body, account_id=open_id if isinstance(open_id, str) else None)


def _error(body: dict[str, Any]) -> ProviderError:
    error = body.get("error")
    if error == DEAD_GRANT_ERROR:
        return ReauthRequired(DEAD_GRANT_ERROR)
    if error == "invalid_client":
        return ClientRejected("tiktok rejected the client key or secret")
    return ProviderError(f"tiktok token request failed: {error or 'unexpected answer'}")
