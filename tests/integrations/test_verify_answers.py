"""`verify` reads each provider's answer as the provider means it: a refused access token is
refreshed and asked again before anything is called dead; Graph's "temporary" codes are not our
client being rejected; Reddit's 429 says how long its quota is gone."""

from __future__ import annotations

import pytest

from ..support.grants import (
    CLIENT_REJECTED,
    every_row,
    marked_dead,
    metric,
    moment,
    status_of,
    stored,
)
from ..support.verify import (
    connected,
    identity_calls,
    recorded_waits,
    run_verify,
    two_creators_connected,
)

TOKEN_PATHS = {"tiktok": "/v2/oauth/token/", "reddit": "/api/v1/access_token"}
REDDIT_ME = "/api/v1/me"
# Reddit's answer over quota: the recorded 429 (prawcore's TestSession.test_request__too__many_
# requests__with_retry_headers.json) carries Retry-After; the API wiki's X-Ratelimit-* too.
OVER_QUOTA = {"message": "Too Many Requests", "error": 429}


@pytest.fixture
def waits(provider_app) -> list[float]:
    return recorded_waits(provider_app)


@pytest.fixture
def reddit_pair(signed_in_client, standins, provider_app, add_user, db_session_cookie):
    return two_creators_connected(
        signed_in_client, standins, provider_app, add_user, db_session_cookie, "reddit"
    )


# Refresh and retry before dead ----------------------------------------------------------------


@pytest.mark.parametrize("provider", ["tiktok", "reddit"])
def test_a_refused_access_token_is_refreshed_and_checked_again(
    signed_in_client, standins, provider_app, waits, provider
):
    connected(signed_in_client, standins, provider_app, provider)
    before = stored(provider_app, provider)
    standins[provider].expire_access_tokens()  # TikTok: access_token_invalid; Reddit: 401

    assert run_verify(provider_app) == "verified=1 dead=0 unavailable=0"

    assert [call.status for call in identity_calls(standins, provider)] == [401, 200]
    assert len(standins[provider].requests_to(TOKEN_PATHS[provider])) == 1
    after = stored(provider_app, provider)
    assert after["expired_reason"] is None and after["verified_at"] != before["verified_at"]
    assert moment(after["expires_at"]) > moment(before["expires_at"])  # the refresh's token
    assert status_of(signed_in_client, provider)["status"] == "connected"


@pytest.mark.parametrize("provider", ["tiktok", "reddit"])
def test_a_grant_is_dead_only_when_its_refresh_is_refused(
    signed_in_client, standins, provider_app, waits, provider
):
    connected(signed_in_client, standins, provider_app, provider)
    standins[provider].revoke_all()
    counted = marked_dead(signed_in_client, provider, "access_revoked", "verify")

    assert run_verify(provider_app) == "verified=0 dead=1 unavailable=0"

    assert len(identity_calls(standins, provider)) == 1  # refused, then not asked again
    assert len(standins[provider].requests_to(TOKEN_PATHS[provider])) == 1
    assert stored(provider_app, provider)["expired_reason"] == "access_revoked"
    assert marked_dead(signed_in_client, provider, "access_revoked", "verify") == counted + 1


def test_a_refresh_unavailable_during_verify_changes_nothing(
    signed_in_client, standins, provider_app, waits
):
    connected(signed_in_client, standins, provider_app, "reddit")
    standins.reddit.expire_access_tokens()
    standins.reddit.fail_next(TOKEN_PATHS["reddit"], 503, times=3)
    before = every_row(provider_app, "integrations")

    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=1"

    assert every_row(provider_app, "integrations") == before
    assert status_of(signed_in_client, "reddit")["status"] == "connected"


# Graph API codes: temporary, rate limits, and our client --------------------------------------


@pytest.mark.parametrize(
    ("code", "message", "status"),
    [
        (1, "An unknown error occurred", 500),
        (1, "Please reduce the amount of data you're asking for, then retry your request", 500),
        (2, "An unexpected error has occurred. Please retry your request later.", 503),
        (4, "Application request limit reached", 403),
        (17, "User request limit reached", 403),
        (32, "Page request limit reached", 403),
        (613, "Calls to this api have exceeded the rate limit.", 400),
    ],
    ids=["1-unknown", "1-too-much-data", "2-service", "4-app-limit", "17-user", "32", "613"],
)
def test_graph_temporary_and_rate_limit_codes_are_unavailable_not_our_client(
    signed_in_client,
    standins,
    provider_app,
    waits,
    add_user,
    db_session_cookie,
    logs,
    code,
    message,
    status,
):
    second = two_creators_connected(
        signed_in_client, standins, provider_app, add_user, db_session_cookie, "instagram"
    )
    before = every_row(provider_app, "integrations")
    rejected = metric(signed_in_client, CLIENT_REJECTED, provider="instagram")
    # The Handling Errors guide: 1 "API Unknown", 2 "API Service": possibly temporary, wait
    # and retry; 4, 17, 32 and 613: throttling. The body is the guide's error shape.
    answer = {"error": {"message": message, "type": "OAuthException", "code": code}}
    standins.instagram.fail_next("/me", status, answer, times=6)

    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=2"

    assert len(identity_calls(standins, "instagram")) >= 2  # the run went on to the second
    assert every_row(provider_app, "integrations") == before
    assert [status_of(c, "instagram")["status"] for c in (signed_in_client, second)] == [
        "connected",
        "connected",
    ]
    assert metric(signed_in_client, CLIENT_REJECTED, provider="instagram") == rejected
    assert [line for line in logs if line["level"] == "error"] == []


def test_a_secret_message_on_a_call_that_sent_no_secret_is_not_our_client(
    signed_in_client, standins, provider_app, waits, logs
):
    connected(signed_in_client, standins, provider_app, "instagram")
    rejected = metric(signed_in_client, CLIENT_REJECTED, provider="instagram")
    # /me carries no secret, so this cannot be about ours.
    answer = {"error": {"message": "Error validating client secret.", "code": 1}}
    standins.instagram.fail_next("/me", 400, answer)

    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=1"

    assert metric(signed_in_client, CLIENT_REJECTED, provider="instagram") == rejected
    assert [line for line in logs if line["level"] == "error"] == []


# Reddit's quota --------------------------------------------------------------------------------


def test_reddit_429_stops_calling_reddit_for_the_run(reddit_pair, standins, provider_app, waits):
    headers = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "540", "Retry-After": "540"}
    standins.reddit.fail_next(REDDIT_ME, 429, OVER_QUOTA, headers, times=3)

    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=2"

    assert len(identity_calls(standins, "reddit")) == 1  # not retried, and no second creator
    assert waits == []
    assert [stored(provider_app, "reddit", user)["expired_reason"] for user in (1, 2)] == [
        None,
        None,
    ]


@pytest.mark.parametrize(
    "headers",
    [{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "7"}, {"Retry-After": "4"}],
    ids=["x-ratelimit", "recorded-retry-after"],
)
def test_reddit_429_with_a_short_wait_is_waited_out(reddit_pair, standins, provider_app, headers):
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        standins.reddit.advance(seconds)

    provider_app.extensions["sleep"] = wait
    standins.reddit.fail_next(REDDIT_ME, 429, OVER_QUOTA, headers)

    assert run_verify(provider_app) == "verified=1 dead=0 unavailable=1"

    assert waits == [float(headers.get("X-Ratelimit-Reset", headers.get("Retry-After")))]
    assert [call.status for call in identity_calls(standins, "reddit")] == [429, 200]
