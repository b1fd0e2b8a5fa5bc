"""A grant found dead reads `expired` at once, with its reason stored and counted; an operator's
wrong client settings or an unavailable provider mark nothing; reconnecting brings it back."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from webapp.timeutil import utcnow

from ..support.app import connect_via_oauth
from ..support.grants import (
    CLIENT_REJECTED,
    a_day_old,
    every_row,
    every_row_except,
    marked_dead,
    metric,
    refresh,
    run_refresh_due,
    set_ago,
    status_of,
    stored,
)

# The dead-grant answer each provider gives a refresh once the creator removed the app
# (Reddit's: HTTP 400 {"error": 400}, as prawcore recorded it).
DEAD_ON_REFRESH = {"tiktok": "invalid_grant", "reddit": "refused_400", "instagram": "oauth_190"}
TOKEN_PATHS = {
    "tiktok": "/v2/oauth/token/",
    "reddit": "/api/v1/access_token",
    "instagram": "/refresh_access_token",
}


def in_future(timestamp: str) -> bool:
    return datetime.fromisoformat(timestamp) > utcnow()


@pytest.mark.parametrize("provider", ["tiktok", "reddit", "instagram"])
def test_refresh_meeting_a_revoked_grant_makes_it_read_expired_at_once(
    signed_in_client, standins, provider_app, provider
):
    connect_via_oauth(signed_in_client, provider)
    assert status_of(signed_in_client, provider)["status"] == "connected"
    a_day_old(provider_app, standins, provider)  # Instagram would not renew a newer token
    standins[provider].revoke_all()
    counted = marked_dead(signed_in_client, provider, "access_revoked", "refresh")

    response = refresh(signed_in_client, provider, standins[provider].account_id)

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "REAUTH_REQUIRED"
    item = status_of(signed_in_client, provider)
    assert item["status"] == "expired" and in_future(item["expiresAt"])  # long before expiry
    row = stored(provider_app, provider)
    assert (row["expired_reason"], row["expired_detail"]) == (
        "access_revoked",
        DEAD_ON_REFRESH[provider],
    )
    assert marked_dead(signed_in_client, provider, "access_revoked", "refresh") == counted + 1


@pytest.mark.parametrize(
    ("refused", "detail"), [("recorded", "refused_400"), ("source", "refused_invalid_request")]
)
def test_reddit_refusing_a_refresh_grant_with_either_documented_body_is_a_dead_grant(
    signed_in_client, standins, provider_app, refused, detail
):
    connect_via_oauth(signed_in_client, "reddit")
    standins.reddit.refused_refresh = refused
    standins.reddit.revoke_all()

    response = refresh(signed_in_client, "reddit", standins.reddit.account_id)
    again = refresh(signed_in_client, "reddit", standins.reddit.account_id)

    assert (response.status_code, again.status_code) == (409, 409)  # not a 502, every time
    assert [c.status for c in standins.reddit.requests_to("/api/v1/access_token")][-2:] == [
        400,
        400,
    ]
    row = stored(provider_app, "reddit")
    assert (row["expired_reason"], row["expired_detail"]) == ("access_revoked", detail)
    assert status_of(signed_in_client, "reddit")["status"] == "expired"


def test_instagram_past_its_expiry_reads_expired_without_calling_instagram(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "instagram")
    set_ago(provider_app, "instagram", "expires_at", timedelta(hours=1))
    counted = marked_dead(signed_in_client, "instagram", "expired", "refresh")

    response = refresh(signed_in_client, "instagram", standins.instagram.account_id)

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "REAUTH_REQUIRED"
    assert standins.instagram.requests_to("/refresh_access_token") == []
    assert status_of(signed_in_client, "instagram")["status"] == "expired"
    row = stored(provider_app, "instagram")
    assert (row["expired_reason"], row["expired_detail"]) == ("expired", "token_expired")
    assert marked_dead(signed_in_client, "instagram", "expired", "refresh") == counted + 1


@pytest.mark.parametrize("provider", ["tiktok", "reddit"])
def test_refresh_due_meeting_a_revoked_grant_makes_it_read_expired_at_once(
    signed_in_client, standins, provider_app, provider
):
    connect_via_oauth(signed_in_client, provider)
    set_ago(provider_app, provider, "expires_at", -timedelta(minutes=5))  # due, not yet expired
    standins[provider].revoke_all()
    counted = marked_dead(signed_in_client, provider, "access_revoked", "refresh_due")

    assert run_refresh_due(provider_app) == "refreshed=0 failed=1 skipped=0 expired=0"

    item = status_of(signed_in_client, provider)
    assert item["status"] == "expired" and in_future(item["expiresAt"])
    assert stored(provider_app, provider)["expired_reason"] == "access_revoked"
    assert marked_dead(signed_in_client, provider, "access_revoked", "refresh_due") == counted + 1
    # Dead: never sent to the provider again.
    standins[provider].clear_requests()
    assert run_refresh_due(provider_app) == "refreshed=0 failed=0 skipped=0 expired=0"
    assert standins[provider].requests_to(TOKEN_PATHS[provider]) == []


def test_refresh_due_leaves_an_instagram_token_past_its_expiry_for_the_creator(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "instagram")
    set_ago(provider_app, "instagram", "expires_at", timedelta(hours=1))
    counted = marked_dead(signed_in_client, "instagram", "expired", "refresh_due")

    assert run_refresh_due(provider_app) == "refreshed=0 failed=1 skipped=0 expired=0"
    # Only a new authorization helps: later runs have nothing to do for it.
    assert run_refresh_due(provider_app) == "refreshed=0 failed=0 skipped=0 expired=0"

    assert standins.instagram.requests_to("/refresh_access_token") == []
    assert status_of(signed_in_client, "instagram")["status"] == "expired"
    row = stored(provider_app, "instagram")
    assert (row["expired_reason"], row["last_refresh_error"]) == ("expired", "reauth_required")
    assert marked_dead(signed_in_client, "instagram", "expired", "refresh_due") == counted + 1


def test_refresh_due_records_an_expiry_that_passed_while_backing_off(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "reddit")
    set_ago(provider_app, "reddit", "expires_at", -timedelta(minutes=5))
    standins.reddit.fail_next("/api/v1/access_token", 503, times=3)
    assert run_refresh_due(provider_app) == "refreshed=0 failed=1 skipped=0 expired=0"
    assert stored(provider_app, "reddit")["expired_reason"] is None
    set_ago(provider_app, "reddit", "expires_at", timedelta(minutes=1))
    counted = marked_dead(signed_in_client, "reddit", "refresh_failed", "refresh_due")

    assert run_refresh_due(provider_app) == "refreshed=0 failed=0 skipped=0 expired=1"
    assert run_refresh_due(provider_app) == "refreshed=0 failed=0 skipped=0 expired=0"

    assert status_of(signed_in_client, "reddit")["status"] == "expired"
    assert stored(provider_app, "reddit")["expired_reason"] == "refresh_failed"
    assert marked_dead(signed_in_client, "reddit", "refresh_failed", "refresh_due") == counted + 1


# Our own client settings are wrong: the operator's error, never a creator's dead grant --------


@pytest.fixture
def wrong_reddit_secret(make_app, standins, provider_app):
    """The service as an operator misconfigured it, on the same database as provider_app."""
    return make_app(**{**standins.settings(), "REDDIT_CLIENT_SECRET": "not-the-registered-secret"})


def test_a_token_endpoint_401_on_refresh_is_logged_counted_and_marks_nothing(
    signed_in_client, standins, provider_app, wrong_reddit_secret, logs
):
    connect_via_oauth(signed_in_client, "reddit")
    client = wrong_reddit_secret.test_client()
    client.set_cookie(
        "next-auth.session-token", signed_in_client.get_cookie("next-auth.session-token").value
    )
    before = stored(provider_app, "reddit")
    rejected = metric(client, CLIENT_REJECTED, provider="reddit")

    response = refresh(client, "reddit", standins.reddit.account_id)

    assert [call.status for call in standins.reddit.requests_to("/api/v1/access_token")][-1] == 401
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "INTERNAL_ERROR"
    assert stored(provider_app, "reddit") == before  # reason NULL, no failure counted
    assert status_of(signed_in_client, "reddit")["status"] == "connected"
    assert metric(client, CLIENT_REJECTED, provider="reddit") == rejected + 1
    assert_logged_as_operator_error(logs)


def test_a_token_endpoint_401_in_refresh_due_is_logged_counted_and_marks_nothing(
    signed_in_client, standins, provider_app, wrong_reddit_secret, add_user, db_session_cookie, logs
):
    connect_via_oauth(signed_in_client, "reddit")
    add_user(2)
    second = provider_app.test_client()
    second.set_cookie("next-auth.session-token", db_session_cookie(2))
    connect_via_oauth(second, "reddit")
    set_ago(provider_app, "reddit", "expires_at", -timedelta(minutes=5))
    before = every_row(provider_app, "integrations")
    rejected = metric(signed_in_client, CLIENT_REJECTED, provider="reddit")
    standins.reddit.clear_requests()

    # The first refusal stops the run calling Reddit: the second would be refused alike.
    assert run_refresh_due(wrong_reddit_secret) == "refreshed=0 failed=1 skipped=1 expired=0"

    assert [c.status for c in standins.reddit.requests_to("/api/v1/access_token")] == [401]
    assert every_row(provider_app, "integrations") == before
    assert status_of(signed_in_client, "reddit")["status"] == "connected"
    assert metric(signed_in_client, CLIENT_REJECTED, provider="reddit") == rejected + 1
    assert_logged_as_operator_error(logs)


def assert_logged_as_operator_error(logs) -> None:
    [line] = [line for line in logs if line["level"] == "error"]
    assert line["logger"] == "webapp.refresh" and line["provider"] == "reddit"
    assert "client credentials" in line["message"]
    assert line["settings"] == "REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET"
    assert "not-the-registered-secret" not in line["_raw"]


# An unavailable provider is no answer about the grant ----------------------------------------


def inject(standin, path: str, fault: str) -> None:
    """The provider fails every attempt the service makes (it retries 5xx and 429)."""
    if fault == "hang":
        standin.hang_next(path, 5, times=3)  # outlasts the 0.8 s read timeout
    elif fault == "reset":
        standin.reset_next(path, times=3)
    else:
        standin.fail_next(path, int(fault), times=3)


@pytest.mark.parametrize("fault", ["500", "503", "429", "hang", "reset"])
@pytest.mark.parametrize("provider", ["tiktok", "reddit"])
def test_an_unavailable_provider_during_refresh_changes_nothing(
    signed_in_client, standins, provider_app, provider, fault
):
    connect_via_oauth(signed_in_client, provider)
    before = every_row_except(provider_app, "integrations", "renewal_unanswered_at")
    shown = status_of(signed_in_client, provider)
    inject(standins[provider], TOKEN_PATHS[provider], fault)

    response = refresh(signed_in_client, provider, standins[provider].account_id)

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    # Only that a token POST went unanswered is remembered (a rotation may be lost), and
    # nothing the creator or the platform sees changes: not even updatedAt.
    unanswered = stored(provider_app, provider)["renewal_unanswered_at"]
    assert (unanswered is not None) == (fault in ("hang", "reset"))
    assert every_row_except(provider_app, "integrations", "renewal_unanswered_at") == before
    assert status_of(signed_in_client, provider) == shown


@pytest.mark.parametrize("fault", ["503", "429", "reset"])
def test_an_unavailable_provider_during_refresh_due_only_backs_off(
    signed_in_client, standins, provider_app, fault
):
    connect_via_oauth(signed_in_client, "tiktok")
    set_ago(provider_app, "tiktok", "expires_at", -timedelta(minutes=5))
    inject(standins.tiktok, TOKEN_PATHS["tiktok"], fault)

    assert run_refresh_due(provider_app) == "refreshed=0 failed=1 skipped=0 expired=0"

    row = stored(provider_app, "tiktok")
    assert (row["expired_reason"], row["last_refresh_error"]) == (None, "provider_unavailable")
    assert row["refresh_failures"] == 1  # a retry later, not a dead grant
    assert status_of(signed_in_client, "tiktok")["status"] == "connected"


# Reconnecting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["tiktok", "reddit", "instagram"])
def test_reconnecting_a_dead_grant_reads_connected_again_with_the_same_id(
    signed_in_client, standins, provider_app, provider
):
    connect_via_oauth(signed_in_client, provider)
    first = status_of(signed_in_client, provider)
    a_day_old(provider_app, standins, provider)
    standins[provider].revoke_all()
    assert refresh(signed_in_client, provider, standins[provider].account_id).status_code == 409
    assert status_of(signed_in_client, provider)["status"] == "expired"

    back = connect_via_oauth(signed_in_client, provider)

    assert back.status_code == 303
    again = status_of(signed_in_client, provider)
    assert (again["status"], again["id"]) == ("connected", first["id"])
    row = stored(provider_app, provider)
    assert (row["expired_reason"], row["expired_detail"], row["expired_marked_at"]) == (
        None,
        None,
        None,
    )
    assert (row["refresh_failures"], row["last_refresh_error"]) == (0, None)
    assert refresh(signed_in_client, provider, standins[provider].account_id).status_code == 200
