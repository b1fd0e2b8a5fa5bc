"""`flask integrations verify`: each provider's identity call finds dead grants, which read
`expired` at once; unavailability changes nothing; Reddit's quota is waited out."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ..support.app import TEST_DATABASE_URL, connect_via_oauth
from ..support.grants import (
    CLIENT_REJECTED,
    every_row,
    marked_dead,
    metric,
    set_ago,
    status_of,
    stored,
)
from ..support.verify import (
    IDENTITY,
    PROVIDERS,
    connected,
    identity_calls,
    recorded_waits,
    run_verify,
    two_creators_connected,
)

ROOT = Path(__file__).resolve().parents[2]
# What a revoked grant is recorded with: TikTok's and Reddit's refused access token is
# refreshed first, and the refused refresh says why; Instagram's token is the whole grant.
DEAD_ON_VERIFY = {"tiktok": "invalid_grant", "reddit": "refused_400", "instagram": "oauth_190"}


@pytest.fixture
def waits(provider_app) -> list[float]:
    return recorded_waits(provider_app)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_verify_marks_a_revoked_grant_expired_at_once(
    signed_in_client, standins, provider_app, waits, provider
):
    connected(signed_in_client, standins, provider_app, provider)
    standins[provider].revoke_all()
    counted = marked_dead(signed_in_client, provider, "access_revoked", "verify")

    assert run_verify(provider_app) == "verified=0 dead=1 unavailable=0"

    assert status_of(signed_in_client, provider)["status"] == "expired"
    row = stored(provider_app, provider)
    assert (row["expired_reason"], row["expired_detail"]) == (
        "access_revoked",
        DEAD_ON_VERIFY[provider],
    )
    assert marked_dead(signed_in_client, provider, "access_revoked", "verify") == counted + 1
    # Dead is known: the next run asks nobody.
    standins[provider].clear_requests()
    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=0"
    assert identity_calls(standins, provider) == []


def test_verify_makes_each_provider_s_cheapest_identity_call(
    signed_in_client, standins, provider_app, waits
):
    connected(signed_in_client, standins, provider_app, *PROVIDERS)
    before = {provider: stored(provider_app, provider)["verified_at"] for provider in PROVIDERS}

    assert run_verify(provider_app) == "verified=3 dead=0 unavailable=0"

    [tiktok] = identity_calls(standins, "tiktok")
    [reddit] = identity_calls(standins, "reddit")
    [instagram] = identity_calls(standins, "instagram")
    assert tiktok.query == {"fields": "open_id"} and tiktok.bearer
    assert reddit.bearer and reddit.user_agent.startswith("web:creator-integrations")
    assert instagram.query["fields"] == "user_id" and instagram.query["access_token"]
    for provider in PROVIDERS:
        assert stored(provider_app, provider)["verified_at"] != before[provider]
        assert status_of(signed_in_client, provider)["status"] == "connected"
    # Confirmed just now: within the 24 h window, nobody is asked again.
    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=0"
    assert waits == []


@pytest.mark.parametrize("fault", ["500", "503", "429", "hang", "reset"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unavailable_provider_changes_nothing(
    signed_in_client, standins, provider_app, waits, provider, fault
):
    connected(signed_in_client, standins, provider_app, provider)
    before = every_row(provider_app, "integrations")
    path, standin = IDENTITY[provider][0], standins[provider]
    if fault == "hang":
        standin.hang_next(path, 5, times=3)  # each attempt outlasts the 0.8 s read timeout
    elif fault == "reset":
        standin.reset_next(path, times=3)
    else:
        standin.fail_next(path, int(fault), times=3)

    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=1"

    # An identity GET may be retried; Reddit's 429 is its quota, which no retry gets back.
    tries = 1 if (provider, fault) == ("reddit", "429") else 3
    assert len(identity_calls(standins, provider)) == tries
    assert every_row(provider_app, "integrations") == before
    assert status_of(signed_in_client, provider)["status"] == "connected"


def test_a_provider_rejecting_our_client_is_an_operator_error_that_marks_nothing(
    signed_in_client, standins, provider_app, waits, add_user, db_session_cookie, logs
):
    second = two_creators_connected(
        signed_in_client, standins, provider_app, add_user, db_session_cookie, "instagram"
    )
    before = every_row(provider_app, "integrations")
    rejected = metric(signed_in_client, CLIENT_REJECTED, provider="instagram")
    # Meta's answer when the app itself is invalid (code 101), whoever's token it carried.
    standins.instagram.fail_next("/me", 400, {"error": {"message": "Invalid app", "code": 101}})

    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=2"

    assert len(identity_calls(standins, "instagram")) == 1  # no second call with a bad client
    assert every_row(provider_app, "integrations") == before
    assert [status_of(c, "instagram")["status"] for c in (signed_in_client, second)] == [
        "connected",
        "connected",
    ]
    assert metric(signed_in_client, CLIENT_REJECTED, provider="instagram") == rejected + 1
    [line] = [line for line in logs if line["level"] == "error"]
    assert (line["logger"], line["provider"]) == ("webapp.verify", "instagram")
    assert line["settings"] == "INSTAGRAM_CLIENT_ID, INSTAGRAM_CLIENT_SECRET"


# Reddit's quota --------------------------------------------------------------------------------


@pytest.fixture
def two_reddit_creators(signed_in_client, standins, provider_app, add_user, db_session_cookie):
    two_creators_connected(
        signed_in_client, standins, provider_app, add_user, db_session_cookie, "reddit"
    )


def test_verify_waits_out_reddit_s_empty_quota_before_its_next_call(
    two_reddit_creators, standins, provider_app
):
    reddit = standins.reddit
    reddit.set_quota(1, 7)
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        reddit.advance(seconds)  # the wait passes on Reddit's clock

    provider_app.extensions["sleep"] = wait

    assert run_verify(provider_app) == "verified=2 dead=0 unavailable=0"

    assert waits == [7.0]
    assert [call.status for call in reddit.requests_to("/api/v1/me")] == [200, 200]


def test_a_quota_that_returns_too_late_leaves_the_rest_for_the_next_run(
    two_reddit_creators, standins, provider_app, waits
):
    standins.reddit.set_quota(1, 600)

    assert run_verify(provider_app) == "verified=1 dead=0 unavailable=1"

    assert waits == []
    assert len(standins.reddit.requests_to("/api/v1/me")) == 1
    assert [stored(provider_app, "reddit", user)["expired_reason"] for user in (1, 2)] == [
        None,
        None,
    ]
    # The next run meets the empty quota itself: Reddit's 429 is no answer about the grant.
    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=1"
    assert stored(provider_app, "reddit", 2)["expired_reason"] is None


def test_an_empty_quota_after_the_last_call_is_not_waited_for(
    signed_in_client, standins, provider_app, waits
):
    connected(signed_in_client, standins, provider_app, "reddit")
    standins.reddit.set_quota(1, 7)

    assert run_verify(provider_app) == "verified=1 dead=0 unavailable=0"

    assert waits == []


# Which grants a run checks ----------------------------------------------------------------------


def test_limit_checks_the_longest_unconfirmed_first(
    signed_in_client, standins, provider_app, waits
):
    connected(signed_in_client, standins, provider_app, "instagram", ago=timedelta(days=3))
    connected(signed_in_client, standins, provider_app, "tiktok", ago=timedelta(days=2))
    connected(signed_in_client, standins, provider_app, "reddit", ago=timedelta(days=5))

    assert run_verify(provider_app, "--limit", "2") == "verified=2 dead=0 unavailable=0"
    assert [len(identity_calls(standins, p)) for p in PROVIDERS] == [0, 1, 1]
    assert run_verify(provider_app, "--limit", "2") == "verified=1 dead=0 unavailable=0"
    assert [len(identity_calls(standins, p)) for p in PROVIDERS] == [1, 1, 1]


def test_older_than_sets_the_window(signed_in_client, standins, provider_app, waits):
    connected(signed_in_client, standins, provider_app, "reddit", ago=timedelta(hours=2))
    connected(signed_in_client, standins, provider_app, "tiktok", ago=timedelta(hours=30))

    assert run_verify(provider_app) == "verified=1 dead=0 unavailable=0"  # 24 h by default
    assert (len(identity_calls(standins, "tiktok")), len(identity_calls(standins, "reddit"))) == (
        1,
        0,
    )
    assert run_verify(provider_app, "--older-than", "3h") == "verified=0 dead=0 unavailable=0"
    assert run_verify(provider_app, "--older-than", "90m") == "verified=1 dead=0 unavailable=0"
    assert len(identity_calls(standins, "reddit")) == 1


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--older-than", "soon"], "use a number and a unit"),
        (["--older-than", "-1h"], "use a number and a unit"),
        (["--limit", "0"], "0 is not in the range x>=1"),
    ],
)
def test_bad_options_are_refused_naming_the_option(provider_app, args, complaint):
    result = provider_app.test_cli_runner().invoke(args=["integrations", "verify", *args])

    assert result.exit_code == 2
    assert complaint in result.output and args[0] in result.output


def test_verify_leaves_api_keys_and_expired_tokens_alone(
    signed_in_client, standins, provider_app, waits
):
    signed_in_client.post(
        "/api/integrations/connect/onlyfans",
        json={"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_0123456789abcdef"},
    )
    connected(signed_in_client, standins, provider_app, "tiktok")
    set_ago(provider_app, "tiktok", "expires_at", timedelta(minutes=1))  # for refresh to renew
    standins.tiktok.clear_requests()

    assert run_verify(provider_app) == "verified=0 dead=0 unavailable=0"

    assert standins.tiktok.requests == []


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="row locks need PostgreSQL: set TEST_DATABASE_URL"
)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_concurrent_verify_runs_check_each_grant_once(
    make_app, standins, add_user, db_session_cookie, base_env
):
    app = make_app(**standins.settings())
    for user_id in (1, 2, 3):
        add_user(user_id)
        client = app.test_client()
        client.set_cookie("next-auth.session-token", db_session_cookie(user_id))
        connect_via_oauth(client, "tiktok")
    set_ago(app, "tiktok", "verified_at", timedelta(days=2))
    standins.tiktok.clear_requests()
    # Each identity call takes a moment at the provider, so the two runs overlap.
    standins.tiktok.hang_next("/v2/user/info/", 0.4, times=6)
    env = {**os.environ, **base_env, **standins.settings()}

    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "integrations", "verify"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]

    summaries = [out.strip().splitlines()[-1] for out, _ in outputs]
    assert sum(int(s.split()[0].split("=")[1]) for s in summaries) == 3, outputs
    tokens = [call.bearer for call in standins.tiktok.requests_to("/v2/user/info/")]
    assert len(tokens) == len(set(tokens)) == 3
