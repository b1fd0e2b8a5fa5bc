"""Token lifetimes as the providers state them: TikTok's refresh token ends
(`refresh_expires_in`), its revocation takes a live access token, and a lifetime sent as a
numeric string is a lifetime, not "never"."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Integration
from webapp.timeutil import utcnow

from ..support.app import connect_via_oauth
from ..support.grants import (
    marked_dead,
    moment,
    refresh,
    run_refresh_due,
    set_ago,
    status_of,
    stored,
)

TIKTOK_TOKEN = "/v2/oauth/token/"
REFRESH_LIFETIME = timedelta(seconds=15552000)  # the stand-in's, TikTok's documented 180 days


def tokens(app) -> tuple[str | None, str | None]:
    """The one integration's refresh and access tokens, decrypted."""
    with app.app_context():
        row = db.session.execute(select(Integration)).scalar_one()
        found = row.refresh_token, row.access_token
        db.session.rollback()
    return found


def close_to(moment: datetime, expected: datetime) -> bool:
    return abs(moment - expected) < timedelta(seconds=30)


def test_tiktok_refresh_expiry_is_stored_on_connect_and_on_refresh(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    connected = moment(stored(provider_app, "tiktok")["refresh_expires_at"])
    standins.tiktok.advance(3600)  # the rotated token keeps the grant's end: an hour less left

    assert refresh(signed_in_client, "tiktok", standins.tiktok.account_id).status_code == 200

    assert connected is not None and close_to(connected, utcnow() + REFRESH_LIFETIME)
    renewed = moment(stored(provider_app, "tiktok")["refresh_expires_at"])
    assert close_to(renewed, utcnow() + REFRESH_LIFETIME - timedelta(hours=1))


def test_refresh_due_never_sends_a_refresh_token_past_its_expiry(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    set_ago(provider_app, "tiktok", "expires_at", -timedelta(minutes=5))  # due
    set_ago(provider_app, "tiktok", "refresh_expires_at", timedelta(minutes=1))
    standins.tiktok.clear_requests()
    counted = marked_dead(signed_in_client, "tiktok", "expired", "refresh_due")

    assert run_refresh_due(provider_app) == "refreshed=0 failed=1 skipped=0 expired=0"
    assert run_refresh_due(provider_app) == "refreshed=0 failed=0 skipped=0 expired=0"

    assert standins.tiktok.requests_to(TIKTOK_TOKEN) == []
    row = stored(provider_app, "tiktok")
    assert (row["expired_reason"], row["expired_detail"]) == ("expired", "refresh_token_expired")
    assert status_of(signed_in_client, "tiktok")["status"] == "expired"
    assert marked_dead(signed_in_client, "tiktok", "expired", "refresh_due") == counted + 1


def test_disconnect_refreshes_an_expired_tiktok_token_so_the_revocation_works(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    refresh_token, dead_access = tokens(provider_app)
    set_ago(provider_app, "tiktok", "expires_at", timedelta(minutes=1))
    standins.tiktok.expire_access_tokens()

    response = signed_in_client.delete(
        f"/api/integrations/disconnect/tiktok/{standins.tiktok.account_id}"
    )

    assert response.status_code == 200
    [revoke] = standins.tiktok.requests_to("/v2/oauth/revoke/")
    assert revoke.form["token"] != dead_access and revoke.status == 200
    # The app is gone from the creator's TikTok: the grant's every token is revoked.
    assert standins.tiktok.token_state(refresh_token) == "revoked"
    assert standins.tiktok.token_state(revoke.form["token"]) == "revoked"


def test_a_lifetime_sent_as_a_numeric_string_is_a_lifetime(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "reddit")
    # Not an answer any provider documents: JSON numbers re-encoded as strings on the way.
    standins.reddit.fail_next(
        "/api/v1/access_token",
        200,
        {"access_token": "new-access", "token_type": "bearer", "expires_in": "3600"},
    )

    assert refresh(signed_in_client, "reddit", standins.reddit.account_id).status_code == 200

    expires = moment(stored(provider_app, "reddit")["expires_at"])
    assert expires is not None and close_to(expires, utcnow() + timedelta(hours=1))
    assert status_of(signed_in_client, "reddit")["expiresAt"] is not None
