"""Reconnect as the providers answer: refresh first; anything but an unavailable provider (or our
own client refused) sends the creator through the provider's sign-in; Instagram's token of the
day is left as it is. And what the cards say about when a grant ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.integrations.status import IntegrationStatus
from webapp.timeutil import utcnow
from webapp.web.messages import expired_why, renew_before

from ..support.app import connect_via_oauth
from ..support.grants import a_day_old, set_ago, stored
from ..support.page import HX, card, csrf
from ..support.webhooks import DEAUTHORIZE, post_meta, signed_for_instagram

TOKEN_PATHS = {
    "tiktok": "/v2/oauth/token/",
    "reddit": "/api/v1/access_token",
    "instagram": "/refresh_access_token",
}


def reconnect(client, standins, provider: str):
    return client.post(
        f"/integrations/{provider}/{standins[provider].account_id}/reconnect",
        headers={**HX, "X-CSRF-Token": csrf(client)},
    )


def expire(app, provider: str) -> None:
    set_ago(app, provider, "expires_at", timedelta(minutes=5))  # the card offers Reconnect


@pytest.mark.parametrize("refused", ["recorded", "source"])
def test_reconnect_of_a_grant_reddit_refuses_goes_to_reddit_sign_in(
    signed_in_client, standins, provider_app, refused
):
    connect_via_oauth(signed_in_client, "reddit")
    expire(provider_app, "reddit")
    standins.reddit.refused_refresh = refused
    standins.reddit.revoke_all()

    answer = reconnect(signed_in_client, standins, "reddit")

    assert answer.status_code == 204
    assert answer.headers["HX-Redirect"].startswith(f"{standins.reddit.base_url}/api/v1/authorize?")
    assert stored(provider_app, "reddit")["expired_reason"] == "access_revoked"


def test_reconnect_meeting_an_answer_we_do_not_know_goes_to_sign_in(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    expire(provider_app, "tiktok")
    standins.tiktok.fail_next(TOKEN_PATHS["tiktok"], 400, {"error": "something_new"})

    answer = reconnect(signed_in_client, standins, "tiktok")

    assert answer.status_code == 204
    assert answer.headers["HX-Redirect"].startswith(standins.tiktok.base_url)


@pytest.mark.parametrize("fault", ["503", "429", "reset"])
def test_reconnect_with_the_provider_unavailable_says_so_and_stays(
    signed_in_client, standins, provider_app, fault
):
    connect_via_oauth(signed_in_client, "tiktok")
    expire(provider_app, "tiktok")
    if fault == "reset":
        standins.tiktok.reset_next(TOKEN_PATHS["tiktok"])
    else:
        standins.tiktok.fail_next(TOKEN_PATHS["tiktok"], int(fault), times=3)

    answer = reconnect(signed_in_client, standins, "tiktok")

    assert answer.status_code == 502 and "HX-Redirect" not in answer.headers
    assert "TikTok is not responding right now" in answer.get_data(as_text=True)


def test_reconnect_refused_for_our_own_client_is_our_error_not_a_sign_in(
    make_app, standins, provider_app, signed_in_client
):
    connect_via_oauth(signed_in_client, "reddit")
    expire(provider_app, "reddit")
    wrong = make_app(**{**standins.settings(), "REDDIT_CLIENT_SECRET": "not-the-secret"})
    client = wrong.test_client()
    client.set_cookie(
        "next-auth.session-token", signed_in_client.get_cookie("next-auth.session-token").value
    )

    answer = reconnect(client, standins, "reddit")

    assert answer.status_code == 500 and "HX-Redirect" not in answer.headers
    assert "Something went wrong on our side" in answer.get_data(as_text=True)


# Instagram's day-old rule -----------------------------------------------------------------------


def test_reconnect_of_an_instagram_token_of_the_day_leaves_it_connected(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "instagram")
    standins.instagram.clear_requests()

    answer = reconnect(signed_in_client, standins, "instagram")

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Instagram is connected." in html and "is reconnected" not in html
    assert "Connected</span>" in card(html, f"@{standins.instagram.account_name}")
    assert standins.instagram.requests_to(TOKEN_PATHS["instagram"]) == []


def test_reconnect_of_a_removed_instagram_grant_of_the_day_goes_to_sign_in(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "instagram")
    set_ago(provider_app, "instagram", "granted_at", timedelta(hours=1))
    removed = post_meta(provider_app.test_client(), DEAUTHORIZE, signed_for_instagram(standins))
    assert removed.get_json()["data"]["expired"] == 1
    standins.instagram.clear_requests()

    answer = reconnect(signed_in_client, standins, "instagram")

    assert answer.status_code == 204
    assert answer.headers["HX-Redirect"].startswith(standins.instagram.base_url)
    assert standins.instagram.requests_to(TOKEN_PATHS["instagram"]) == []


def test_reconnect_of_a_day_old_instagram_token_renews_it(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "instagram")
    a_day_old(provider_app, standins)
    standins.instagram.clear_requests()

    answer = reconnect(signed_in_client, standins, "instagram")

    assert "Instagram is reconnected." in answer.get_data(as_text=True)
    assert [c.status for c in standins.instagram.requests_to(TOKEN_PATHS["instagram"])] == [200]


# When a grant ends -----------------------------------------------------------------------------


def status(reason=None, *, renew_by=None, expires_at=None) -> IntegrationStatus:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return IntegrationStatus(
        id=1,
        provider="tiktok",
        account_id="a",
        account_name="@a",
        status="connected" if reason is None else "expired",
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
        reason=reason,
        failed_refreshes=0,
        renew_by=renew_by,
    )


NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("item", "words"),
    [
        (status(renew_by=NOW + timedelta(days=13)), "Reconnect before 14 Dec"),
        (status(renew_by=NOW + timedelta(days=14)), "Reconnect before 15 Dec"),
        (status(renew_by=NOW + timedelta(days=15)), None),
        (status(renew_by=NOW + timedelta(days=40)), None),
        (status(), None),  # Reddit's and Instagram's grants name no such day
    ],
)
def test_a_working_card_names_the_day_its_grant_ends_in_its_last_two_weeks(item, words):
    assert renew_before(item, NOW) == words


@pytest.mark.parametrize(
    ("item", "words"),
    [
        (status("renewal_interrupted"), "Renewal was interrupted: reconnect needed"),
        (status("expired", renew_by=NOW - timedelta(days=2)), "Expired on 29 Nov"),
    ],
)
def test_why_a_card_expired_says_what_really_happened(item, words):
    assert expired_why(item, NOW) == words


def test_the_tiktok_card_says_reconnect_before_in_its_last_two_weeks(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    name = f"@{standins.tiktok.account_name}"
    far = card(signed_in_client.get("/integrations").get_data(as_text=True), name)
    set_ago(provider_app, "tiktok", "refresh_expires_at", -timedelta(days=10))
    ends = utcnow() + timedelta(days=10)

    near = card(signed_in_client.get("/integrations").get_data(as_text=True), name)

    assert "Reconnect before" not in far and "expires in" in far
    day = f"{ends.day} {ends.strftime('%b')}"
    assert f">Reconnect before {day}</time>" in near
    assert f'datetime="{ends.strftime("%Y-%m-%d")}T' in near  # the tooltip is the grant's end
