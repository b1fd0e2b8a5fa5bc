"""Reddit OAuth2: HTTP Basic client auth, permanent refresh tokens, a descriptive User-Agent."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .base import Account, Grant, HttpProvider, ProviderSettings, TokenSet
from .errors import ProviderError, ReauthRequired
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
            raise ReauthRequired("no refresh token")
        return self._token({"grant_type": "refresh_token", "refresh_token": grant.refresh_token})

    def fetch_account(self, tokens: TokenSet) -> Account:
        response = self.http.request(
            "GET", self._url(ME), headers={"Authorization": f"bearer {tokens.access_token}"}
        )
        body = json_body(response)
        if response.status_code != 200 or not body.get("id"):
            raise ProviderError("reddit /api/v1/me failed")
        return Account(id=str(body["id"]), name=f"u/{body.get('name') or body['id']}")

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
        expires_in = body.get("expires_in")
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token") or None,
            expires_in=expires_in if isinstance(expires_in, int) else None,
            scope=body.get("scope"),
        )


def _error(status: int, body: dict[str, Any]) -> ProviderError:
    if body.get("error") == "invalid_grant":
        return ReauthRequired("reddit: invalid_grant")
    if status == 401:
        return ProviderError("reddit rejected the client credentials")
    return ProviderError(f"reddit token request failed: HTTP {status}")
