"""Reddit OAuth2: HTTP Basic client auth, permanent refresh tokens, a descriptive User-Agent."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .base import (
    Account,
    Budget,
    Grant,
    HttpProvider,
    ProviderSettings,
    TokenSet,
    oauth_tokens,
)
from .errors import ClientRejected, ProviderError, ReauthRequired
from .outbound import ProviderHttp, json_body

AUTHORIZE = "https://www.reddit.com/api/v1/authorize"
TOKEN = "https://www.reddit.com/api/v1/access_token"
REVOKE = "https://www.reddit.com/api/v1/revoke_token"
ME = "https://oauth.reddit.com/api/v1/me"
SCOPES = "identity read submit"


class Reddit(HttpProvider):
    def __init__(self, settings: ProviderSettings, http: ProviderHttp) -> None:
        super().__init__(settings, http)
        self.client_auth = (settings.client_id, settings.client_secret)

    def authorization_url(self, state: str, redirect_uri: str) -> str:
        query = {
            "client_id": self.settings.client_id,
            "response_type": "code",
            "state": state,
            "redirect_uri": redirect_uri,
            "duration": "permanent",
            "scope": SCOPES,
        }
        return f"{self._url(AUTHORIZE)}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        return self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )

    def refresh(self, grant: Grant, now: datetime) -> TokenSet:
        if not grant.refresh_token:
            raise ReauthRequired("no_refresh_token")
        return self._token({"grant_type": "refresh_token", "refresh_token": grant.refresh_token})

    def renewable(self, grant: Grant, now: datetime) -> bool:
        return grant.refresh_token is not None

    def fetch_account(self, tokens: TokenSet) -> Account:
        response = self.http.request(
            "GET", self._url(ME), headers={"Authorization": f"bearer {tokens.access_token}"}
        )
        body = json_body(response)
        if response.status_code != 200 or not body.get("id"):
            raise ProviderError("reddit /api/v1/me failed")
        return Account(id=str(body["id"]), name=f"u/{body.get('name') or body['id']}")

    def verify(self, access_token: str) -> Budget:
        response = self.http.request(
            "GET", self._url(ME), headers={"Authorization": f"bearer {access_token}"}
        )
        if response.status_code == 401:  # documented: a revoked grant's token is refused
            raise ReauthRequired("invalid_token")
        if response.status_code != 200:
            raise ProviderError(f"reddit /api/v1/me failed: HTTP {response.status_code}")
        return Budget(
            remaining=_number(response.headers.get("X-Ratelimit-Remaining")),
            reset_seconds=_number(response.headers.get("X-Ratelimit-Reset")),
        )

    def revoke(self, access_token: str | None, refresh_token: str | None) -> None:
        # Revoking the refresh token revokes its access tokens too.
        token, hint = (
            (refresh_token, "refresh_token") if refresh_token else (access_token, "access_token")
        )
        if token:
            self.http.request(
                "POST",
                self._url(REVOKE),
                auth=self.client_auth,
                data={"token": token, "token_type_hint": hint},
            )

    def _token(self, grant: dict[str, str]) -> TokenSet:
        response = self.http.request("POST", self._url(TOKEN), auth=self.client_auth, data=grant)
        body = json_body(response)
        if response.status_code != 200 or body.get("error") or "access_token" not in body:
            raise _error(response.status_code, body)
        return oauth_tokens(body)


def _error(status: int, body: dict[str, Any]) -> ProviderError:
    if body.get("error") == "invalid_grant":
        return ReauthRequired("invalid_grant")
    if status == 401:  # documented: bad client credentials, never a creator's dead grant
        return ClientRejected("reddit rejected the client id or secret")
    return ProviderError(f"reddit token request failed: HTTP {status}")


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
