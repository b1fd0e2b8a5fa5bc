"""Each path that changes an integration writes its event, whose `integration` is what the
status endpoint shows at that moment (before a disconnect; after every other change)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from webapp.extensions import db
from webapp.models import Integration
from webapp.timeutil import utcnow

from ..support.app import connect_via_oauth
from ..support.events import (
    bodies,
    check_event,
    cli,
    events_settings,
    meta_callback,
    status_items,
    tiktok_removed,
)

CONNECTED, EXPIRED = "integration.connected", "integration.expired"
DISCONNECTED = "integration.disconnected"
KEY = {"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_0123456789abcdef"}


@pytest.fixture
def extra_settings(receiver) -> dict[str, str]:
    return events_settings(receiver.url)


def only(client, provider: str) -> dict:
    [item] = [i for i in status_items(client).values() if i["provider"] == provider]
    return item


def last_event(app) -> dict:
    return bodies(app)[-1]


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


@pytest.mark.parametrize("provider", ["instagram", "tiktok", "reddit"])
def test_connecting_by_oauth_is_new_then_reconnected(signed_in_client, provider_app, provider):
    connect_via_oauth(signed_in_client, provider)
    check_event(last_event(provider_app), CONNECTED, "new", only(signed_in_client, provider))

    connect_via_oauth(signed_in_client, provider)

    check_event(
        last_event(provider_app), CONNECTED, "reconnected", only(signed_in_client, provider)
    )
    assert [b["data"]["userId"] for b in bodies(provider_app)] == [1, 1]


def test_connecting_onlyfans_by_key_is_new_then_reconnected(signed_in_client, provider_app):
    assert signed_in_client.post("/api/integrations/connect/onlyfans", json=KEY).status_code == 201
    check_event(last_event(provider_app), CONNECTED, "new", only(signed_in_client, "onlyfans"))

    again = signed_in_client.post(
        "/api/integrations/connect/onlyfans", json=KEY | {"accountName": "OF2"}
    )

    assert again.status_code == 200
    check_event(
        last_event(provider_app), CONNECTED, "reconnected", only(signed_in_client, "onlyfans")
    )
    assert len(bodies(provider_app)) == 2


@pytest.mark.parametrize("provider", ["tiktok", "reddit"])
def test_a_refresh_meeting_a_dead_grant_is_expired_access_revoked_once(
    signed_in_client, standins, provider_app, provider
):
    connect_via_oauth(signed_in_client, provider)
    standins[provider].revoke_all()

    assert refresh(signed_in_client, provider, standins[provider].account_id).status_code == 409
    assert refresh(signed_in_client, provider, standins[provider].account_id).status_code == 409

    item = only(signed_in_client, provider)
    assert item["status"] == "expired"
    assert [b["type"] for b in bodies(provider_app)] == [CONNECTED, EXPIRED]
    check_event(last_event(provider_app), EXPIRED, "access_revoked", item)


def test_refresh_due_meeting_a_dead_grant_is_expired_access_revoked(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    set_expiry(provider_app, "tiktok", timedelta(minutes=5))
    standins.tiktok.revoke_all()

    assert cli(provider_app, "integrations", "refresh-due").startswith("refreshed=0 failed=1")

    check_event(
        last_event(provider_app), EXPIRED, "access_revoked", only(signed_in_client, "tiktok")
    )


def test_an_expiry_that_passed_unrenewed_is_expired_once_until_connected_again(
    signed_in_client, provider_app
):
    connect_via_oauth(
        signed_in_client, "instagram"
    )  # Instagram cannot renew a token past its expiry
    set_expiry(provider_app, "instagram", -timedelta(minutes=1))

    cli(provider_app, "integrations", "refresh-due")
    check_event(last_event(provider_app), EXPIRED, "expired", only(signed_in_client, "instagram"))
    cli(provider_app, "integrations", "refresh-due")
    assert len(bodies(provider_app)) == 2  # connected, expired: nothing more

    connect_via_oauth(signed_in_client, "instagram")
    set_expiry(provider_app, "instagram", -timedelta(minutes=1))
    cli(provider_app, "integrations", "refresh-due")

    assert [(b["type"], b["data"]["reason"]) for b in bodies(provider_app)] == [
        (CONNECTED, "new"),
        (EXPIRED, "expired"),
        (CONNECTED, "reconnected"),
        (EXPIRED, "expired"),
    ]
    check_event(last_event(provider_app), EXPIRED, "expired", only(signed_in_client, "instagram"))


def test_an_expiry_refresh_due_cannot_renew_is_recorded_once(
    make_app, receiver, add_user, db_session_cookie
):
    app = make_app(**events_settings(receiver.url))  # no TikTok client: nothing renews it
    add_user(1, [dict(provider="tiktok", account_id="t1", account_name="T", access_token="a")])
    set_expiry(app, "tiktok", -timedelta(minutes=1))
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))

    first = cli(app, "integrations", "refresh-due")
    second = cli(app, "integrations", "refresh-due")

    assert (first, second) == (
        "refreshed=0 failed=0 skipped=0 expired=1",
        "refreshed=0 failed=0 skipped=0 expired=0",
    )
    [body] = bodies(app)
    check_event(body, EXPIRED, "expired", only(client, "tiktok"))


def test_refresh_failures_then_the_expiry_are_refresh_failed_and_a_refresh_renews(
    make_app, standins, receiver, add_user, db_session_cookie
):
    app = make_app(
        **standins.settings(),
        **events_settings(receiver.url),
        PROVIDER_RETRIES="0",
        REFRESH_MAX_FAILURES="2",
    )
    add_user(1)
    creator = app.test_client()
    creator.set_cookie("next-auth.session-token", db_session_cookie(1))
    connect_via_oauth(creator, "reddit")
    set_expiry(app, "reddit", timedelta(minutes=5))
    standins.reddit.fail_next("/api/v1/access_token", 503, times=2)
    for _ in range(2):
        assert cli(app, "integrations", "refresh-due").startswith("refreshed=0 failed=1")
        with app.app_context():
            db.session.execute(update(Integration).values(next_refresh_at=utcnow()))
            db.session.commit()
    assert len(bodies(app)) == 1  # failures alone, before the expiry, tell the platform nothing

    set_expiry(app, "reddit", -timedelta(minutes=1))
    assert cli(app, "integrations", "refresh-due").endswith("expired=1")
    check_event(last_event(app), EXPIRED, "refresh_failed", only(creator, "reddit"))

    assert refresh(creator, "reddit", standins.reddit.account_id).status_code == 200

    check_event(last_event(app), CONNECTED, "renewed", only(creator, "reddit"))
    assert len(bodies(app)) == 3


def test_a_refresh_of_a_working_integration_says_nothing(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "tiktok")

    assert refresh(signed_in_client, "tiktok", standins.tiktok.account_id).status_code == 200
    cli(provider_app, "integrations", "refresh-due", "--within", "3h")

    assert len(bodies(provider_app)) == 1


def test_verify_finding_a_dead_grant_is_expired_access_revoked(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "reddit")
    standins.reddit.revoke_all()

    output = cli(provider_app, "integrations", "verify", "--older-than", "0s")

    assert output == "verified=0 dead=1 unavailable=0"
    check_event(
        last_event(provider_app), EXPIRED, "access_revoked", only(signed_in_client, "reddit")
    )


def test_tiktok_authorization_removed_is_expired_provider_removed_once(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")

    assert tiktok_removed(signed_in_client, standins.tiktok).status_code == 200
    check_event(
        last_event(provider_app), EXPIRED, "provider_removed", only(signed_in_client, "tiktok")
    )
    assert tiktok_removed(signed_in_client, standins.tiktok).status_code == 200  # redelivered

    assert len(bodies(provider_app)) == 2


def test_instagram_deauthorize_is_expired_provider_removed(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "instagram")

    assert meta_callback(signed_in_client, standins.instagram, "deauthorize").status_code == 200

    check_event(
        last_event(provider_app), EXPIRED, "provider_removed", only(signed_in_client, "instagram")
    )


def test_disconnecting_is_disconnected_with_the_integration_as_it_was(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    before = only(signed_in_client, "tiktok")

    signed_in_client.delete(f"/api/integrations/disconnect/tiktok/{standins.tiktok.account_id}")

    assert status_items(signed_in_client) == {}
    check_event(last_event(provider_app), DISCONNECTED, "creator", before)


def test_a_data_deletion_request_is_disconnected_for_every_creator_of_the_account(
    signed_in_client, standins, provider_app, add_user, db_session_cookie
):
    add_user(2)
    other = provider_app.test_client()
    other.set_cookie("next-auth.session-token", db_session_cookie(2))
    connect_via_oauth(signed_in_client, "instagram")
    connect_via_oauth(other, "instagram")
    before = [only(signed_in_client, "instagram"), only(other, "instagram")]

    assert meta_callback(signed_in_client, standins.instagram, "data-deletion").status_code == 200

    assert status_items(signed_in_client) == status_items(other) == {}
    deleted = bodies(provider_app)[2:]
    assert [b["data"]["userId"] for b in deleted] == [1, 2]
    for body, item in zip(deleted, before, strict=True):
        check_event(body, DISCONNECTED, "data_deletion", item)
