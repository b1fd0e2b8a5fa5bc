"""The provider stand-ins speak each provider's documented protocol, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from ..standins import ProviderStandIns, authorize, authorize_redirect

CALLBACK = "http://localhost:5000/api/integrations/callback"
AGENT = "web:creator-integrations:1.0 (by /u/creator-platform)"
PROVIDERS = ["instagram", "tiktok", "reddit"]


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def call(
    method: str,
    url: str,
    *,
    form: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    agent: str | None = AGENT,
    timeout: float = 5.0,
) -> Answer:
    """One request with exactly these headers (no urllib default User-Agent), no redirects."""
    if query:
        url = f"{url}?{urlencode(query)}"
    sent = ({"User-Agent": agent} if agent else {}) | (headers or {})
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    opener = urllib.request.build_opener(_NoRedirects)
    opener.addheaders = []
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers, error.read())


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# Instagram ----------------------------------------------------------------------------------


def instagram_form(standins: ProviderStandIns) -> dict[str, str]:
    """The documented code exchange form, with a fresh code."""
    ig = standins.instagram
    code, _ = authorize(ig.authorize_url(CALLBACK, "s1"))
    return {
        "client_id": ig.client_id,
        "client_secret": ig.client_secret,
        "grant_type": "authorization_code",
        "redirect_uri": CALLBACK,
        "code": code,
    }


def instagram_code_exchange(standins: ProviderStandIns) -> Answer:
    url = f"{standins.instagram.base_url}/oauth/access_token"
    return call("POST", url, form=instagram_form(standins))


def instagram_long_lived(standins: ProviderStandIns) -> str:
    ig = standins.instagram
    short = instagram_code_exchange(standins).json["access_token"]
    query = {
        "grant_type": "ig_exchange_token",
        "client_secret": ig.client_secret,
        "access_token": short,
    }
    answer = call("GET", f"{ig.base_url}/access_token", query=query)
    assert answer.json["expires_in"] == 5183944 and answer.json["token_type"] == "bearer"
    return str(answer.json["access_token"])


def instagram_refresh(standins: ProviderStandIns, token: str) -> Answer:
    query = {"grant_type": "ig_refresh_token", "access_token": token}
    return call("GET", f"{standins.instagram.base_url}/refresh_access_token", query=query)


def test_instagram_code_gives_short_lived_token_and_numeric_user_id(standins: ProviderStandIns):
    location = authorize_redirect(standins.instagram.authorize_url(CALLBACK, "s1"))
    answer = instagram_code_exchange(standins)

    assert location.endswith("#_")  # Instagram's documented suffix
    assert answer.status == 200
    # The Instagram-scoped id, a JSON number beyond 2**53: not /me's user_id.
    assert answer.json["user_id"] == 27012345678901234
    assert str(answer.json["user_id"]) == standins.instagram.instagram_scoped_id
    assert answer.json["permissions"] == [
        "instagram_business_basic",
        "instagram_business_content_publish",
    ]
    sent = standins.instagram.requests_to("/oauth/access_token")[0]
    assert sent.form["client_secret"] == standins.instagram.client_secret and not sent.query


def test_instagram_documented_data_array_shape_keeps_user_id_a_string(
    standins: ProviderStandIns,
):
    standins.instagram.code_response_shape = "data"
    answer = instagram_code_exchange(standins)
    assert answer.json["data"][0]["user_id"] == standins.instagram.instagram_scoped_id
    assert answer.json["data"][0]["access_token"].startswith("IGAA")


def test_instagram_accepts_multipart_form_like_its_curl_examples(standins: ProviderStandIns):
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in instagram_form(standins).items()
    ]
    request = urllib.request.Request(
        f"{standins.instagram.base_url}/oauth/access_token",
        data=("".join(parts) + "--b--\r\n").encode(),
        headers={"Content-Type": "multipart/form-data; boundary=b", "User-Agent": AGENT},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert "access_token" in json.loads(response.read())


def test_instagram_code_is_single_use_and_bound_to_its_redirect_uri(standins: ProviderStandIns):
    form = instagram_form(standins)
    url = f"{standins.instagram.base_url}/oauth/access_token"

    mismatch = call("POST", url, form=form | {"redirect_uri": CALLBACK + "/other"})
    first = call("POST", url, form=form)
    again = call("POST", url, form=form)

    assert mismatch.status == 400 and mismatch.json["error_type"] == "OAuthException"
    assert first.status == 200
    assert again.status == 400 and "has been used" in again.json["error_message"]


def test_instagram_long_lived_token_refreshes_itself_and_reads_the_account(
    standins: ProviderStandIns,
):
    ig = standins.instagram
    long_lived = instagram_long_lived(standins)
    ig.advance(24 * 3600)
    refreshed = instagram_refresh(standins, long_lived)
    by_query = call(
        "GET",
        f"{ig.base_url}/me",
        query={"fields": "user_id,username", "access_token": refreshed.json["access_token"]},
    )
    by_header = call(
        "GET",
        f"{ig.base_url}/v23.0/me",
        query={"fields": "user_id,username"},
        headers={"Authorization": f"Bearer {long_lived}"},
    )

    assert refreshed.status == 200 and refreshed.json["access_token"] != long_lived
    assert refreshed.json["expires_in"] == 5183944
    for answer in (by_query, by_header):
        assert answer.json["user_id"] == ig.account_id
        assert answer.json["username"] == ig.account_name


@pytest.mark.parametrize("kill", ["expire_access_tokens", "revoke_all"])
def test_instagram_dead_token_gets_oauth_exception_190(standins: ProviderStandIns, kill: str):
    long_lived = instagram_long_lived(standins)
    getattr(standins.instagram, kill)()

    refresh = instagram_refresh(standins, long_lived)
    me = call("GET", f"{standins.instagram.base_url}/me", query={"access_token": long_lived})

    for answer in (refresh, me):
        assert answer.status == 400
        error = answer.json["error"]
        assert (error["type"], error["code"]) == ("OAuthException", 190) and error["fbtrace_id"]
    if kill == "expire_access_tokens":
        assert "Session has expired" in refresh.json["error"]["message"]


def test_instagram_refuses_to_refresh_a_token_under_24_hours_old(standins: ProviderStandIns):
    long_lived = instagram_long_lived(standins)

    young = instagram_refresh(standins, long_lived)
    standins.instagram.advance(24 * 3600 - 60)
    still_young = instagram_refresh(standins, long_lived)
    standins.instagram.advance(61)
    old_enough = instagram_refresh(standins, long_lived)

    for refused in (young, still_young):
        assert refused.status == 400
        error = refused.json["error"]
        assert (error["code"], error["type"]) == (100, "IGApiException") and error["fbtrace_id"]
    assert old_enough.status == 200


def test_instagram_names_one_account_with_three_different_ids(standins: ProviderStandIns):
    ig = standins.instagram
    exchanged = instagram_code_exchange(standins).json
    me = call(
        "GET",
        f"{ig.base_url}/v26.0/me",
        query={"fields": "user_id,username", "access_token": exchanged["access_token"]},
    ).json

    ids = {str(exchanged["user_id"]), me["user_id"], me["id"]}
    assert ids == {ig.instagram_scoped_id, ig.account_id, ig.app_scoped_id}
    assert len(ids) == 3


# TikTok -------------------------------------------------------------------------------------


def tiktok_token(standins: ProviderStandIns, **form: str) -> Answer:
    tt = standins.tiktok
    sent = {"client_key": tt.client_id, "client_secret": tt.client_secret} | form
    return call("POST", f"{tt.base_url}/v2/oauth/token/", form=sent)


def tiktok_exchange(standins: ProviderStandIns, code: str, **extra: str) -> Answer:
    grant = {"code": code, "grant_type": "authorization_code", "redirect_uri": CALLBACK}
    return tiktok_token(standins, **grant, **extra)


def tiktok_tokens(standins: ProviderStandIns) -> dict[str, Any]:
    code, _ = authorize(standins.tiktok.authorize_url(CALLBACK, "s1"))
    answer = tiktok_exchange(standins, code)
    assert answer.status == 200, answer.json
    return dict(answer.json)


def tiktok_refresh(standins: ProviderStandIns, refresh_token: str) -> Answer:
    return tiktok_token(standins, grant_type="refresh_token", refresh_token=refresh_token)


def tiktok_revoke(standins: ProviderStandIns, access_token: str) -> Answer:
    tt = standins.tiktok
    form = {"client_key": tt.client_id, "client_secret": tt.client_secret, "token": access_token}
    return call("POST", f"{tt.base_url}/v2/oauth/revoke/", form=form)


def test_tiktok_code_flow_sends_client_key_and_answers_documented_fields(
    standins: ProviderStandIns,
):
    code, _ = authorize(standins.tiktok.authorize_url(CALLBACK, "s1"))
    tokens = tiktok_tokens(standins)

    assert "*" in code and "!" in code  # real codes need URL-decoding
    assert tokens["token_type"] == "Bearer" and tokens["open_id"] == standins.tiktok.account_id
    assert (tokens["expires_in"], tokens["refresh_expires_in"]) == (7200, 15552000)
    assert tokens["scope"] == "user.info.basic"
    sent = standins.tiktok.requests_to("/v2/oauth/token/")[-1].form
    assert sent["client_key"] == standins.tiktok.client_id and "client_id" not in sent


def test_tiktok_refresh_rotates_and_the_stale_refresh_token_gets_invalid_grant(
    standins: ProviderStandIns,
):
    first = tiktok_tokens(standins)["refresh_token"]
    rotated = tiktok_refresh(standins, first)
    stale = tiktok_refresh(standins, first)
    latest = tiktok_refresh(standins, rotated.json["refresh_token"])

    assert rotated.status == 200 and rotated.json["refresh_token"] not in ("", first)
    assert stale.status == 400 and stale.json["error"] == "invalid_grant" and stale.json["log_id"]
    assert latest.status == 200


@pytest.mark.parametrize(("mode", "expected"), [("same", "first"), ("empty", "")])
def test_tiktok_refresh_can_return_the_same_or_an_empty_refresh_token(
    standins: ProviderStandIns, mode: str, expected: str
):
    standins.tiktok.refresh_token_mode = mode  # type: ignore[assignment]
    first = tiktok_tokens(standins)["refresh_token"]
    answers = [tiktok_refresh(standins, first) for _ in range(2)]
    assert [a.json["refresh_token"] for a in answers] == [first if expected else ""] * 2


def test_tiktok_wrong_client_gets_invalid_client(standins: ProviderStandIns):
    answer = tiktok_token(standins, client_secret="nope", grant_type="refresh_token")
    assert answer.status == 400 and answer.json["error"] == "invalid_client"


def test_tiktok_enforces_s256_when_a_code_challenge_was_sent(standins: ProviderStandIns):
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    url = standins.tiktok.authorize_url(
        CALLBACK, "s1", code_challenge=challenge.decode().rstrip("="), code_challenge_method="S256"
    )
    code, _ = authorize(url)

    wrong = tiktok_exchange(standins, code, code_verifier="w" * 50)
    right = tiktok_exchange(standins, code, code_verifier=verifier)

    assert wrong.status == 400 and wrong.json["error"] == "invalid_request"
    assert right.status == 200


def test_tiktok_codes_expire_after_ten_minutes(standins: ProviderStandIns):
    code, _ = authorize(standins.tiktok.authorize_url(CALLBACK, "s1"))
    standins.tiktok.advance(601)
    assert tiktok_exchange(standins, code).json["error"] == "invalid_grant"


def test_tiktok_user_info_then_revoke_ends_every_token(standins: ProviderStandIns):
    tt = standins.tiktok
    tokens = tiktok_tokens(standins)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info_url = f"{tt.base_url}/v2/user/info/"
    fields = {"fields": "open_id,display_name"}

    info = call("GET", info_url, query=fields, headers=bearer)
    revoke = tiktok_revoke(standins, tokens["access_token"])
    after = call("GET", info_url, query=fields, headers=bearer)

    assert info.json["data"]["user"] == {"open_id": tt.account_id, "display_name": tt.account_name}
    assert info.json["error"]["code"] == "ok"
    assert (revoke.status, revoke.json) == (200, {})
    assert after.status == 401 and after.json["error"]["code"] == "access_token_invalid"
    assert tiktok_refresh(standins, tokens["refresh_token"]).json["error"] == "invalid_grant"


def test_tiktok_revoke_with_an_expired_access_token_revokes_nothing(standins: ProviderStandIns):
    tt = standins.tiktok
    tokens = tiktok_tokens(standins)
    tt.expire_access_tokens()

    revoke = tiktok_revoke(standins, tokens["access_token"])

    assert revoke.status == 400 and revoke.json["error"] == "invalid_request"
    assert tt.token_state(tokens["refresh_token"]) == "valid"  # still connected at TikTok


# Reddit -------------------------------------------------------------------------------------


def reddit_token(standins: ProviderStandIns, form: dict[str, str], **kwargs: Any) -> Answer:
    rd = standins.reddit
    kwargs.setdefault("headers", basic(rd.client_id, rd.client_secret))
    return call("POST", f"{rd.base_url}/api/v1/access_token", form=form, **kwargs)


def reddit_tokens(standins: ProviderStandIns, duration: str = "permanent") -> dict[str, Any]:
    code, _ = authorize(standins.reddit.authorize_url(CALLBACK, "s1", duration=duration))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    answer = reddit_token(standins, form)
    assert answer.status == 200, answer.json
    return dict(answer.json)


@pytest.mark.parametrize("auth", [None, ("StandInRedditClient22", "wrong")])
def test_reddit_token_endpoint_requires_basic_client_auth(
    standins: ProviderStandIns, auth: tuple[str, str] | None
):
    form = {"grant_type": "refresh_token", "refresh_token": "x"}
    answer = reddit_token(standins, form, headers=basic(*auth) if auth else {})
    assert answer.status == 401 and answer.json == {"message": "Unauthorized", "error": 401}


@pytest.mark.parametrize("agent", [None, "python-requests/2.32.3", "Python-urllib/3.11", "curl/8"])
def test_reddit_throttles_a_missing_or_generic_user_agent(
    standins: ProviderStandIns, agent: str | None
):
    answer = reddit_token(standins, {"grant_type": "refresh_token"}, agent=agent)
    assert answer.status == 429 and answer.json == {"message": "Too Many Requests", "error": 429}
    assert [r.user_agent for r in standins.reddit.throttled] == [agent]


def test_reddit_permanent_grant_refreshes_without_rotation(standins: ProviderStandIns):
    rd = standins.reddit
    tokens = reddit_tokens(standins)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refreshed = [reddit_token(standins, refresh) for _ in range(2)]
    me = call(
        "GET",
        f"{rd.base_url}/api/v1/me",
        headers={"Authorization": f"bearer {refreshed[1].json['access_token']}"},
    )

    assert (tokens["token_type"], tokens["expires_in"]) == ("bearer", 3600)
    assert tokens["scope"] == "identity read submit"
    # Since 2021 a refresh answer repeats the refresh token (it does not rotate).
    assert all(a.status == 200 for a in refreshed)
    assert [a.json["refresh_token"] for a in refreshed] == [tokens["refresh_token"]] * 2
    assert (me.json["id"], me.json["name"]) == (rd.account_id, rd.account_name)
    sent = rd.requests_to("/api/v1/access_token")[0]
    assert sent.basic_auth == (rd.client_id, rd.client_secret) and sent.user_agent == AGENT


def test_reddit_temporary_grant_has_no_refresh_token(standins: ProviderStandIns):
    assert "refresh_token" not in reddit_tokens(standins, duration="temporary")


def test_reddit_revoked_refresh_token_gets_400_and_revocation_answers_200(
    standins: ProviderStandIns,
):
    rd = standins.reddit
    tokens = reddit_tokens(standins)
    revoke = call(
        "POST",
        f"{rd.base_url}/api/v1/revoke_token",
        form={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        headers=basic(rd.client_id, rd.client_secret),
    )
    refresh = reddit_token(
        standins, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    me = call(
        "GET",
        f"{rd.base_url}/api/v1/me",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )

    assert (revoke.status, revoke.body) == (200, b"")
    assert (refresh.status, refresh.json) == (400, {"error": 400})  # as recorded by prawcore
    assert me.status == 401
    standins.reddit.refused_refresh = "source"  # as reddit-archive/reddit's source answers
    again = reddit_token(
        standins, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert (again.status, again.json) == (400, {"error": "invalid_request"})


def test_reddit_bad_code_gets_http_200_invalid_grant(standins: ProviderStandIns):
    form = {"grant_type": "authorization_code", "code": "not-a-code", "redirect_uri": CALLBACK}

    answer = reddit_token(standins, form)

    assert (answer.status, answer.json) == (200, {"error": "invalid_grant"})


def test_reddit_me_reports_the_quota_and_refuses_calls_beyond_it_until_the_window_ends(
    standins: ProviderStandIns,
):
    rd = standins.reddit
    bearer = {"Authorization": f"bearer {reddit_tokens(standins)['access_token']}"}
    rd.set_quota(2, 42)
    me = f"{rd.base_url}/api/v1/me"

    answers = [call("GET", me, headers=bearer) for _ in range(3)]
    rd.advance(42)
    later = call("GET", me, headers=bearer)

    assert [a.status for a in answers] == [200, 200, 429]
    assert [a.headers["X-Ratelimit-Remaining"] for a in answers] == ["1.0", "0.0", "0.0"]
    assert [a.headers["X-Ratelimit-Used"] for a in answers] == ["1", "2", "2"]
    assert all(a.headers["X-Ratelimit-Reset"] in ("41", "42") for a in answers)
    assert later.status == 200 and later.headers["X-Ratelimit-Remaining"] == "1.0"


def test_reddit_429_over_quota_says_when_the_quota_returns(standins: ProviderStandIns):
    rd = standins.reddit
    bearer = {"Authorization": f"bearer {reddit_tokens(standins)['access_token']}"}
    rd.set_quota(1, 90)

    call("GET", f"{rd.base_url}/api/v1/me", headers=bearer)
    refused = call("GET", f"{rd.base_url}/api/v1/me", headers=bearer)

    assert refused.status == 429
    assert refused.headers["Retry-After"] == refused.headers["X-Ratelimit-Reset"] in ("89", "90")
    assert refused.headers["X-Ratelimit-Remaining"] == "0.0"


# Every provider's authorize page ------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_authorize_redirects_with_a_code_and_the_exact_state(
    standins: ProviderStandIns, provider: str
):
    state = "a b/+=&é?x"
    code, returned = authorize(standins[provider].authorize_url(CALLBACK, state))
    assert code and returned == state


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_denied_authorize_redirects_with_access_denied(standins: ProviderStandIns, provider: str):
    standin = standins[provider]
    standin.deny_next_authorize()
    location = authorize_redirect(standin.authorize_url(CALLBACK, "s"))
    denied = dict(parse_qsl(urlsplit(location).query))
    assert (denied["error"], denied["state"]) == ("access_denied", "s") and "code" not in denied
    assert authorize(standin.authorize_url(CALLBACK, "s"))[0]  # only the next one is denied


@pytest.mark.parametrize("provider", PROVIDERS)
def test_authorize_never_redirects_for_an_unknown_client_or_redirect_uri(
    standins: ProviderStandIns, provider: str
):
    standin = standins[provider]
    standin.redirect_uris = {CALLBACK}
    good = standin.authorize_url(CALLBACK, "s")
    bad_client = good.replace(standin.client_id, "someone-else")
    bad_redirect = standin.authorize_url("https://evil.example/cb", "s")
    for url in (bad_client, bad_redirect):
        answer = call("GET", url)
        assert answer.status == 400 and "Location" not in answer.headers


# Faults and lifecycle -----------------------------------------------------------------------


def test_fail_next_answers_the_injected_status_then_the_real_api(standins: ProviderStandIns):
    standins.reddit.fail_next(
        "/api/v1/me",
        429,
        {"message": "Too Many Requests", "error": 429},
        headers={"Retry-After": "7"},
        times=2,
    )
    standins.reddit.fail_next("/api/v1/me", 503)
    url = f"{standins.reddit.base_url}/api/v1/me"

    answers = [call("GET", url) for _ in range(4)]

    assert [a.status for a in answers] == [429, 429, 503, 401]
    assert answers[0].headers["Retry-After"] == "7"
    assert [r.fault for r in standins.reddit.requests] == ["fail 429", "fail 429", "fail 503", None]


def test_hang_next_outlasts_the_client_timeout_then_answers_normally(
    standins: ProviderStandIns,
):
    url = f"{standins.tiktok.base_url}/v2/user/info/"
    standins.tiktok.hang_next("/v2/user/info/", 1.0)
    with pytest.raises(OSError):  # TimeoutError, possibly wrapped in URLError
        call("GET", url, timeout=0.2)
    assert call("GET", url).status == 401


def test_reset_next_drops_the_connection_without_an_answer(standins: ProviderStandIns):
    url = f"{standins.instagram.base_url}/me"
    standins.instagram.reset_next("/me")
    with pytest.raises(OSError):  # ConnectionResetError or RemoteDisconnected
        call("GET", url)
    assert call("GET", url).status == 400
    first, second = standins.instagram.requests
    assert (first.fault, first.status, second.status) == ("reset", None, 400)


def test_concurrent_code_exchanges_are_all_answered(standins: ProviderStandIns):
    codes = [authorize(standins.tiktok.authorize_url(CALLBACK, str(n)))[0] for n in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda code: tiktok_exchange(standins, code), codes))
    assert {a.status for a in answers} == {200}
    assert len({a.json["access_token"] for a in answers}) == 12


def test_stopping_wakes_hangs_and_leaves_no_thread_or_port():
    with ProviderStandIns() as standins:
        url = f"{standins.reddit.base_url}/api/v1/me"
        standins.reddit.hang_next("/api/v1/me", 60)
        with pytest.raises(OSError):
            call("GET", url, timeout=0.2)
        started = time.monotonic()
    assert time.monotonic() - started < 5
    assert not [t for t in threading.enumerate() if t.name.startswith("standin-")]
    with pytest.raises(urllib.error.URLError):
        call("GET", url, timeout=1)
