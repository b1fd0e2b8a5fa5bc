"""Reddit OAuth2: HTTP Basic client auth, permanent refresh tokens that do not rotate, and a
throttle on generic User-Agents (www.reddit.com and oauth.reddit.com on one server).

Each answer is Reddit's own, from two sources: exchanges recorded from the real API in
praw-dev/prawcore's test cassettes (tests/integration/cassettes/, named below), and Reddit's
source, reddit-archive/reddit r2/r2/controllers/oauth2.py (OAuth2AccessController).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from .base import ProviderStandIn, Route
from .wire import RecordedRequest, Response, json_response

ACCESS_LIFETIME = 3600
# A refresh grant Reddit refuses (the refresh token revoked, unknown or another client's).
REFUSED_REFRESH: dict[str, dict[str, Any]] = {
    # Recorded: TestAuthorizer.test_refresh__with_invalid_token.json, HTTP 400.
    "recorded": {"error": 400},
    # The source: _access_token_refresh adds an error and sets response.status = 400;
    # _check_for_errors words it {"error": "invalid_request"}.
    "source": {"error": "invalid_request"},
}
GENERIC_AGENT = re.compile(
    r"^\s*(python-requests|python-urllib|python-httpx|httpx|aiohttp|curl|wget|go-http-client"
    r"|okhttp|java|axios|node-fetch|undici|libwww-perl|ruby|guzzle|postmanruntime)\b",
    re.IGNORECASE,
)


class RedditStandIn(ProviderStandIn):
    """Refresh answers repeat the refresh token (since 2021); revocation answers 200."""

    name = "reddit"
    default_client_id = "StandInRedditClient22"
    default_client_secret = "reddit-standin-secret"
    default_account_id = "abc123"
    default_account_name = "reddit_creator"
    authorize_path = "/api/v1/authorize"
    default_scope = "identity read submit"

    def authorize_url(self, redirect_uri: str, state: str, **params: str) -> str:
        return super().authorize_url(redirect_uri, state, **{"duration": "permanent", **params})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Which of Reddit's two documented bodies a refused refresh grant gets (REFUSED_REFRESH).
        self.refused_refresh: Literal["recorded", "source"] = "recorded"
        self.throttled: list[RecordedRequest] = []  # requests refused for a generic User-Agent
        self.set_quota(100, 600.0)

    def set_quota(self, calls: int, window: float = 600.0) -> None:
        """The client's quota from now on, reported in X-Ratelimit-*: `calls` to /api/v1/me per
        window of `window` seconds, the first opening at the next call; beyond it, 429 until
        the window ends (on the ledger's clock: a test moves it forward instead of sleeping)."""
        with self._lock:
            self.quota, self.quota_window = calls, window
            self._window_ends, self._used = 0.0, 0

    def routes(self) -> dict[tuple[str, str], Route]:
        api = self._descriptive_agent_required
        return {
            # The authorize page is visited by the creator's browser, not by the service.
            ("GET", "/api/v1/authorize"): self._authorize,
            ("GET", "/api/v1/authorize.compact"): self._authorize,
            ("POST", "/api/v1/access_token"): api(self._access_token),
            ("POST", "/api/v1/revoke_token"): api(self._revoke_token),
            ("GET", "/api/v1/me"): api(self._me),
        }

    def route_path(self, path: str) -> str:
        return path.rstrip("/") or "/"

    def authorize_problem(self, query: dict[str, str]) -> tuple[str, str] | None:
        if query.get("duration") not in ("temporary", "permanent"):
            return "invalid_request", "duration must be temporary or permanent"
        return super().authorize_problem(query)

    def _descriptive_agent_required(self, route: Route) -> Route:
        def guarded(request: RecordedRequest) -> Response:
            agent = request.user_agent or ""
            if not agent.strip() or GENERIC_AGENT.match(agent):
                self.throttled.append(request)
                return json_response(429, {"message": "Too Many Requests", "error": 429})
            return route(request)

        return guarded

    def _access_token(self, request: RecordedRequest) -> Response:
        if request.basic_auth != (self.client_id, self.client_secret):
            # The source's _get_client_auth: abort(401) with this challenge, before any grant.
            return _unauthorized('Basic realm="reddit"')
        form = request.form
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        # The source answers an unknown grant_type through api_wrapper, with HTTP 200.
        return json_response(200, {"error": "unsupported_grant_type"})

    def _exchange_code(self, form: dict[str, str]) -> Response:
        code, _ = self.ledger.redeem(form.get("code", ""), form.get("redirect_uri", ""))
        if code is None:
            # HTTP 200: TestAuthorizer.test_authorize__with_invalid_code.json, and the source's
            # _make_token_dict(None) returned through api_wrapper with no status set.
            return json_response(200, {"error": "invalid_grant"})
        grant = self.ledger.new_grant()
        payload = self._access_answer(grant, code.scope)
        if code.params.get("duration") == "permanent":
            refresh = self.ledger.issue("refresh", grant=grant, scope=code.scope, expires_at=None)
            payload["refresh_token"] = refresh.value
        return json_response(200, payload)

    def _refresh(self, form: dict[str, str]) -> Response:
        old, state = self.ledger.lookup(form.get("refresh_token", ""), "refresh")
        if old is None or state != "valid":
            return json_response(400, REFUSED_REFRESH[self.refused_refresh])
        payload = self._access_answer(old.grant, old.scope)
        # Since 2021 the answer repeats the refresh token: TestAuthorizer.test_refresh.json
        # (recorded 2021-02-22); it does not rotate.
        payload["refresh_token"] = old.value
        return json_response(200, payload)

    def _access_answer(self, grant: int, scope: str) -> dict[str, Any]:
        expires_at = self.ledger.now() + ACCESS_LIFETIME
        access = self.ledger.issue("access", grant=grant, scope=scope, expires_at=expires_at)
        return {
            "access_token": access.value,
            "token_type": "bearer",
            "expires_in": ACCESS_LIFETIME,
            "scope": scope,
        }

    def _revoke_token(self, request: RecordedRequest) -> Response:
        if request.basic_auth != (self.client_id, self.client_secret):
            return _unauthorized('Basic realm="reddit"')
        token = self.ledger.tokens.get(request.form.get("token", ""))
        if token is not None and token.kind == "refresh":
            self.ledger.revoke_grant(token.grant)  # and every access token it issued
        elif token is not None:
            token.revoked = True  # an access token alone
        # 200 with an empty body since 2021 (the source's 204 before):
        # TestAuthorizer.test_revoke__refresh_token_with_access_set.json, recorded 2021-06-07.
        return Response(200, b"", {"Content-Type": "application/json; charset=UTF-8"})

    def _me(self, request: RecordedRequest) -> Response:
        now = self.ledger.now()
        if now >= self._window_ends:
            self._window_ends, self._used = now + self.quota_window, 0
        if self._used >= self.quota:
            # Retry-After as recorded on a 429 (TestSession.test_request__too__many_requests__
            # with_retry_headers.json); X-Ratelimit-* as Reddit's API wiki says every answer has.
            limited = self._ratelimit_headers(now)
            limited["Retry-After"] = limited["X-Ratelimit-Reset"]
            return json_response(429, {"message": "Too Many Requests", "error": 429}, limited)
        self._used += 1
        limits = self._ratelimit_headers(now)
        token, state = self.ledger.lookup(request.bearer or "", "access")
        if token is None or state != "valid":
            # TestSession.test_request__with_invalid_access_token__retry.json: 401, this body
            # and challenge; prawcore then fetches a new token and retries.
            return _unauthorized('Bearer realm="reddit", error="invalid_token"')
        if not {"identity", "*"} & set(re.split(r"[\s,]+", token.scope)):
            return json_response(403, {"message": "Forbidden", "error": 403})
        profile = {
            "id": self.account_id,
            "name": self.account_name,
            "created_utc": 1500000000.0,
            "has_verified_email": True,
            "is_suspended": False,
            "icon_img": "",
        }
        return json_response(200, profile, limits)

    def _ratelimit_headers(self, now: float) -> dict[str, str]:
        return {
            "X-Ratelimit-Used": str(self._used),
            "X-Ratelimit-Remaining": f"{float(self.quota - self._used):.1f}",  # Reddit: "99.0"
            "X-Ratelimit-Reset": str(math.ceil(self._window_ends - now)),
        }


def _unauthorized(challenge: str) -> Response:
    return json_response(
        401, {"message": "Unauthorized", "error": 401}, {"WWW-Authenticate": challenge}
    )
