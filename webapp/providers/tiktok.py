"""TikTok Login Kit v2: `client_key`, rotating refresh tokens, revocation."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .base import Account, Grant, HttpProvider, TokenSet
from .errors import ProviderError, ReauthRequired
from .outbound import json_body

AUTHORIZE = "https://www.tiktok.com/v2/auth/authorize/"
TOKEN = "https://open.tiktokapis.com/v2/oauth/token/"
REVOKE = "https://open.tiktokapis.com/v2/oauth/revoke/"
USER_INFO = "https://open.tiktokapis.com/v2/user/info/"
SCOPES = "user.info.basic"
DEAD_GRANT_ERRORS = frozenset({"invalid_grant", "access_denied", "invalid_token"})


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
            raise ReauthRequired("no refresh token")
        return self._token({"grant_type": "refresh_token", "refresh_token": grant.refresh_token})

    def fetch_account(self, tokens: TokenSet) -> Account:
        response = self.http.request(
            "GET",
            self._url(USER_INFO),
            params={"fields": "open_id,display_name"},
            headers={"Authorization": f"Bearer {tokens.access_token}"},
        )
        body = json_body(response)
        user = body.get("data", {}).get("user", {}) if isinstance(body.get("data"), dict) else {}
        open_id = user.get("open_id") or tokens.account_id
        if response.status_code != 200 or not open_id:
            raise ProviderError("tiktok user info failed")
        return Account(id=str(open_id), name=f"@{user.get('display_name') or open_id}")

    def revoke(self, access_token: str | None, refresh_token: str | None) -> None:
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
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token") or None,
            expires_in=_seconds(body.get("expires_in")),
            scope=body.get("scope"),
            account_id=body.get("open_id"),
        )


def _error(body: dict[str, Any]) -> ProviderError:
    error = body.get("error")
    if error in DEAD_GRANT_ERRORS:
        return ReauthRequired(f"tiktok: {error}")
    return ProviderError(f"tiktok token request failed: {error or 'unexpected answer'}")


def _seconds(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
