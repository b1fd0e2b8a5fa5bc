"""Reddit OAuth2: HTTP Basic client auth, permanent refresh tokens, a descriptive User-Agent.

Reddit answers as its source says (reddit-archive/reddit, r2/r2/controllers/oauth2.py) and as
praw-dev/prawcore's cassettes recorded it, not as RFC 6749 suggests: bad client auth is a 401;
a bad *code* is HTTP 200 {"error": "invalid_grant"}; a refused *refresh grant* is HTTP 400,
{"error": 400} as recorded or {"error": "invalid_request"} as the source words it.
"""

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
from .errors import ClientRejected, ProviderError, ProviderUnavailable, ReauthRequired
from .outbound import ProviderHttp, json_body

AUTHORIZE = "https://www.reddit.com/api/v1/authorize"
TOKEN = "https://www.reddit.com/api/v1/access_token"
REVOKE = "https://www.reddit.com/api/v1/revoke_token"
ME = "https://oauth.reddit.com/api/v1/me"
SCOPES = "identity read submit"
# Answered to the caller rather than retried: a 429 says how long the quota is gone.
QUOTA_REFUSED = frozenset({429})
MAX_UNKNOWN_WAIT_S = 600  # a 429 naming no wait: Reddit's quota window is 10 minutes


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
            "GET",
            self._url(ME),
            headers={"Authorization": f"bearer {access_token}"},
            answered=QUOTA_REFUSED,
        )
        if response.status_code == 401:  # the access token is refused: a refresh may cure it
            raise ReauthRequired("invalid_token")
        if response.status_code == 429:  # the client's quota is gone until the window resets
            reset = _number(response.headers.get("X-Ratelimit-Reset"))
            after = _number(response.headers.get("Retry-After"))
            wait = reset if reset is not None else after
            raise ProviderUnavailable(
                "reddit quota used up",
                retry_after=math.ceil(wait) if wait is not None else MAX_UNKNOWN_WAIT_S,
                throttled=True,
            )
        if response.status_code != 200:
            raise ProviderError(f"reddit /api/v1/me failed: HTTP {response.status_code}")
        return Budget(
            remaining=_number(response.headers.get("X-Ratelimit-Remaining")),
            reset_seconds=_number(response.headers.get("X-Ratelimit-Reset")),
        )

    def revoke(self, grant: Grant, now: datetime) -> None:
        # Revoking the refresh token revokes its access tokens too.
        token, hint = (
            (grant.refresh_token, "refresh_token")
            if grant.refresh_token
            else (grant.access_token, "access_token")
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
            raise _error(grant["grant_type"], response.status_code, body)
        return oauth_tokens(body)


def _error(grant_type: str, status: int, body: dict[str, Any]) -> ProviderError:
    if status == 401:  # bad client credentials (Basic auth), never a creator's dead grant
        return ClientRejected("reddit rejected the client id or secret")
    error = body.get("error")
    if grant_type == "refresh_token" and status == 400:
        # Our client passed Basic auth, so the refusal is about the grant: it is dead.
        return ReauthRequired(f"refused_{error}" if error else "refused")
    if error == "invalid_grant":  # a bad or used code (HTTP 200)
        return ReauthRequired("invalid_grant")
    return ProviderError(f"reddit token request failed: HTTP {status}")


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
