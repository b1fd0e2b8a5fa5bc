"""Refresh now, refresh before expiry (the cron job), and disconnect, against the stand-ins."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import Integration
from webapp.timeutil import utcnow

from ..support.app import TEST_DATABASE_URL, connect_via_oauth
from ..support.grants import a_day_old

ROOT = Path(__file__).resolve().parents[2]


def row(app, provider: str) -> Integration:
    with app.app_context():
        return db.session.execute(
            select(Integration).where(Integration.provider == provider)
        ).scalar_one()


def set_expiry(app, provider: str, delta: timedelta) -> None:
    with app.app_context():
        db.session.execute(
            update(Integration)
            .where(Integration.provider == provider)
            .values(expires_at=utcnow() + delta)
        )
        db.session.commit()


def refresh(client, provider: str, account_id: str):
    return client.post(f"/api/integrations/refresh/{provider}/{account_id}")


def test_tiktok_refreshes_twice_in_a_row_keeping_the_newest_refresh_token(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    account = standins.tiktok.account_id
    first_refresh_token = row(provider_app, "tiktok").refresh_token
    set_expiry(provider_app, "tiktok", -timedelta(minutes=5))

    one, two = (
        refresh(signed_in_client, "tiktok", account),
        refresh(signed_in_client, "tiktok", account),
    )

    assert (one.status_code, two.status_code) == (200, 200)
    item = two.get_json()["data"]["integration"]
    assert item["status"] == "connected" and item["accountId"] == account
    stored = row(provider_app, "tiktok")
    assert stored.refresh_token != first_refresh_token
    assert standins.tiktok.token_state(stored.refresh_token) == "valid"
    assert standins.tiktok.token_state(first_refresh_token) == "revoked"
    sent = [
        c.form["refresh_token"]
        for c in standins.tiktok.requests_to("/v2/oauth/token/")
        if c.form.get("grant_type") == "refresh_token"
    ]
    assert sent[0] == first_refresh_token and sent[1] != first_refresh_token


def test_an_empty_refresh_token_never_replaces_the_stored_one(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    standins.tiktok.refresh_token_mode = "empty"
    kept = row(provider_app, "tiktok").refresh_token

    assert refresh(signed_in_client, "tiktok", standins.tiktok.account_id).status_code == 200

    assert row(provider_app, "tiktok").refresh_token == kept


def test_expiry_comes_from_the_providers_expires_in(signed_in_client, standins, provider_app):
    standins.tiktok.access_lifetime = 1234
    connect_via_oauth(signed_in_client, "tiktok")

    stored = row(provider_app, "tiktok")

    assert abs((stored.expires_at - stored.updated_at).total_seconds() - 1234) < 5


@pytest.mark.parametrize("provider", ["tiktok", "reddit"])
def test_revoked_grant_gets_409_and_keeps_the_integration(
    signed_in_client, standins, provider_app, provider
):
    connect_via_oauth(signed_in_client, provider)
    standins[provider].revoke_all()

    response = refresh(signed_in_client, provider, standins[provider].account_id)

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "REAUTH_REQUIRED"
    assert row(provider_app, provider).last_refresh_error == "reauth_required"
    assert (
        len(signed_in_client.get("/api/integrations/status").get_json()["data"]["integrations"])
        == 1
    )


def test_expired_instagram_token_needs_reconnecting(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "instagram")
    set_expiry(provider_app, "instagram", -timedelta(hours=1))

    response = refresh(signed_in_client, "instagram", standins.instagram.account_id)

    assert response.status_code == 409
    assert standins.instagram.requests_to("/refresh_access_token") == []


def test_instagram_refresh_uses_ig_refresh_token(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "instagram")
    a_day_old(provider_app, standins)
    old = row(provider_app, "instagram").access_token

    response = refresh(signed_in_client, "instagram", standins.instagram.account_id)

    assert response.status_code == 200
    [call] = standins.instagram.requests_to("/refresh_access_token")
    assert call.query == {"grant_type": "ig_refresh_token", "access_token": old}
    assert row(provider_app, "instagram").access_token != old


def test_provider_5xx_after_retries_gets_502_and_loses_nothing(
    signed_in_client, standins, provider_app, provider_waits
):
    connect_via_oauth(signed_in_client, "reddit")
    before = row(provider_app, "reddit")
    standins.reddit.fail_next("/api/v1/access_token", 503, times=3)

    response = refresh(signed_in_client, "reddit", standins.reddit.account_id)

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) > 0
    after = row(provider_app, "reddit")
    assert (after.refresh_token, after.access_token) == (before.refresh_token, before.access_token)
    assert len(standins.reddit.requests_to("/api/v1/access_token")) == 1 + 3
    assert provider_waits == [0.25, 0.5]  # exponential backoff between the three attempts


def test_provider_429_is_retried_after_its_retry_after(signed_in_client, standins, provider_waits):
    connect_via_oauth(signed_in_client, "tiktok")
    standins.tiktok.fail_next("/v2/oauth/token/", 429, headers={"Retry-After": "1"})

    response = refresh(signed_in_client, "tiktok", standins.tiktok.account_id)

    assert response.status_code == 200
    assert provider_waits == [1.0]


@pytest.mark.parametrize("fault", ["hang", "reset"])
def test_token_post_is_never_resent_once_it_may_have_reached_the_provider(
    signed_in_client, standins, provider_app, fault
):
    connect_via_oauth(signed_in_client, "tiktok")
    before = row(provider_app, "tiktok")
    standins.tiktok.clear_requests()
    if fault == "hang":
        standins.tiktok.hang_next("/v2/oauth/token/", 5, times=3)
    else:
        standins.tiktok.reset_next("/v2/oauth/token/", times=3)
    started = time.monotonic()

    response = refresh(signed_in_client, "tiktok", standins.tiktok.account_id)

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert time.monotonic() - started < 5  # one attempt of at most 0.8 s
    # The provider may have rotated the refresh token: sending it again could lose the grant.
    assert len(standins.tiktok.requests_to("/v2/oauth/token/")) == 1
    assert row(provider_app, "tiktok").refresh_token == before.refresh_token


def test_api_key_integrations_have_nothing_to_refresh(signed_in_client):
    signed_in_client.post(
        "/api/integrations/connect/onlyfans",
        json={"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_0123456789abcdef"},
    )

    response = refresh(signed_in_client, "onlyfans", "of1")

    assert response.status_code == 200
    assert response.get_json()["data"]["integration"]["expiresAt"] is None


def test_other_users_account_and_missing_account_get_the_same_404(
    signed_in_client, standins, provider_app, add_user, db_session_cookie
):
    connect_via_oauth(signed_in_client, "tiktok")
    add_user(2)
    other = provider_app.test_client()
    other.set_cookie("next-auth.session-token", db_session_cookie(2))
    account = standins.tiktok.account_id

    theirs = [
        refresh(other, "tiktok", account),
        other.delete(f"/api/integrations/disconnect/tiktok/{account}"),
    ]
    missing = [
        refresh(other, "tiktok", "nope"),
        other.delete("/api/integrations/disconnect/tiktok/nope"),
    ]

    for response in theirs + missing:
        assert response.status_code == 404
        assert response.get_json()["error"] == {
            "code": "NOT_FOUND",
            "message": "Integration not found",
        }
    assert row(provider_app, "tiktok").user_id == 1


def test_disconnect_revokes_at_tiktok_and_deletes(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "tiktok")
    access = row(provider_app, "tiktok").access_token

    response = signed_in_client.delete(
        f"/api/integrations/disconnect/tiktok/{standins.tiktok.account_id}"
    )

    assert response.status_code == 200
    assert response.get_json()["data"]["disconnected"] == {
        "provider": "tiktok",
        "accountId": standins.tiktok.account_id,
    }
    [revoke] = standins.tiktok.requests_to("/v2/oauth/revoke/")
    assert revoke.form["token"] == access
    assert standins.tiktok.token_state(access) == "revoked"
    assert signed_in_client.get("/api/integrations/status").get_json()["data"]["integrations"] == []


def test_disconnect_revokes_the_reddit_refresh_token(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "reddit")
    refresh_token = row(provider_app, "reddit").refresh_token

    signed_in_client.delete(f"/api/integrations/disconnect/reddit/{standins.reddit.account_id}")

    [revoke] = standins.reddit.requests_to("/api/v1/revoke_token")
    assert revoke.form == {"token": refresh_token, "token_type_hint": "refresh_token"}
    assert revoke.basic_auth == (standins.reddit.client_id, standins.reddit.client_secret)


def test_disconnect_deletes_even_when_revocation_fails(signed_in_client, standins):
    connect_via_oauth(signed_in_client, "tiktok")
    standins.tiktok.fail_next("/v2/oauth/revoke/", 500, times=3)

    response = signed_in_client.delete(
        f"/api/integrations/disconnect/tiktok/{standins.tiktok.account_id}"
    )

    assert response.status_code == 200
    assert signed_in_client.get("/api/integrations/status").get_json()["data"]["integrations"] == []


def run_refresh_due(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["integrations", "refresh-due", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_refresh_due_refreshes_what_expires_soon_and_leaves_the_rest(
    signed_in_client, standins, provider_app
):
    for provider in ("tiktok", "reddit", "instagram"):
        connect_via_oauth(signed_in_client, provider)
    a_day_old(provider_app, standins)  # Instagram renews a token once it is a day old
    set_expiry(provider_app, "tiktok", timedelta(minutes=10))
    set_expiry(provider_app, "reddit", timedelta(hours=2))
    set_expiry(provider_app, "instagram", timedelta(days=30))

    assert run_refresh_due(provider_app) == "refreshed=1 failed=0 skipped=0 expired=0"
    assert row(provider_app, "tiktok").expires_at > utcnow() + timedelta(hours=1)

    # TikTok's fresh token lasts 2 h and Reddit's expires in 2 h: both fall within 3 h.
    assert (
        run_refresh_due(provider_app, "--within", "3h")
        == "refreshed=2 failed=0 skipped=0 expired=0"
    )
    assert (
        run_refresh_due(provider_app, "--within", "45d")
        == "refreshed=3 failed=0 skipped=0 expired=0"
    )


def test_refresh_due_backs_off_and_finally_leaves_it_for_the_creator(
    make_app, standins, add_user, db_session_cookie
):
    app = make_app(**standins.settings(), PROVIDER_RETRIES="0", REFRESH_MAX_FAILURES="2")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    connect_via_oauth(client, "reddit")
    set_expiry(app, "reddit", timedelta(minutes=5))
    standins.reddit.fail_next("/api/v1/access_token", 503, times=10)

    assert run_refresh_due(app) == "refreshed=0 failed=1 skipped=0 expired=0"
    first = row(app, "reddit")
    assert (first.refresh_failures, first.last_refresh_error) == (1, "provider_unavailable")
    assert first.next_refresh_at > utcnow() + timedelta(minutes=4)
    assert run_refresh_due(app) == "refreshed=0 failed=0 skipped=0 expired=0"  # backing off

    with app.app_context():
        db.session.execute(update(Integration).values(next_refresh_at=utcnow()))
        db.session.commit()
    assert run_refresh_due(app) == "refreshed=0 failed=1 skipped=0 expired=0"
    with app.app_context():
        db.session.execute(update(Integration).values(next_refresh_at=utcnow()))
        db.session.commit()
    assert (
        run_refresh_due(app) == "refreshed=0 failed=0 skipped=0 expired=0"
    )  # left for the creator
    assert row(app, "reddit").refresh_failures == 2


def test_refresh_due_marks_a_dead_grant_at_once(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "tiktok")
    set_expiry(provider_app, "tiktok", timedelta(minutes=5))
    standins.tiktok.revoke_all()

    assert run_refresh_due(provider_app) == "refreshed=0 failed=1 skipped=0 expired=0"
    assert run_refresh_due(provider_app) == "refreshed=0 failed=0 skipped=0 expired=0"
    assert row(provider_app, "tiktok").last_refresh_error == "reauth_required"


def test_reconnecting_clears_the_refresh_failures(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "tiktok")
    standins.tiktok.revoke_all()
    refresh(signed_in_client, "tiktok", standins.tiktok.account_id)

    connect_via_oauth(signed_in_client, "tiktok")

    stored = row(provider_app, "tiktok")
    assert (stored.refresh_failures, stored.last_refresh_error) == (0, None)


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="row locks need PostgreSQL: set TEST_DATABASE_URL"
)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_concurrent_refresh_due_runs_refresh_each_token_once(
    make_app, standins, add_user, db_session_cookie, base_env
):
    app = make_app(**standins.settings())
    for user_id in (1, 2, 3):
        add_user(user_id)
        client = app.test_client()
        client.set_cookie("next-auth.session-token", db_session_cookie(user_id))
        connect_via_oauth(client, "tiktok")
    set_expiry(app, "tiktok", timedelta(minutes=5))
    standins.tiktok.clear_requests()
    # Each refresh takes a moment at the provider, so the two runs overlap.
    standins.tiktok.hang_next("/v2/oauth/token/", 0.4, times=6)
    env = {**os.environ, **base_env, **standins.settings()}

    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "integrations", "refresh-due"],
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
    refreshed = sum(int(s.split()[0].split("=")[1]) for s in summaries)
    assert refreshed == 3, outputs
    calls = [c.form["refresh_token"] for c in standins.tiktok.requests_to("/v2/oauth/token/")]
    assert len(calls) == len(set(calls)) == 3
