"""A token request that went out and got no answer may have rotated the refresh token: when the
provider then refuses the grant, the renewal was interrupted, and the page, the platform's
events, the logs and the metrics say so; nobody revoked anything."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import Integration
from webapp.timeutil import utcnow

from ..support.app import connect_via_oauth
from ..support.events import bodies, check_event, events_settings
from ..support.grants import (
    marked_dead,
    refresh,
    run_refresh_due,
    set_ago,
    status_of,
    stored,
)

TOKEN = "/v2/oauth/token/"
HX = {"HX-Request": "true"}


@pytest.fixture
def extra_settings(receiver) -> dict[str, str]:
    return events_settings(receiver.url)


def refresh_token(app) -> str | None:
    with app.app_context():
        value = db.session.execute(select(Integration.refresh_token)).scalar_one()
        db.session.rollback()
    return value


def answered_meanwhile(standin, path: str) -> None:
    """Wait until the provider has acted on the request we gave up on (its answer unread)."""
    deadline = time.monotonic() + 5
    while standin.requests_to(path)[-1].status is None:
        assert time.monotonic() < deadline, "the stand-in never answered"
        time.sleep(0.05)


def lose_a_rotation(signed_in_client, standins, provider_app, via: str) -> None:
    """TikTok rotates the refresh token, but its answer comes after our 0.8 s read timeout."""
    old = refresh_token(provider_app)
    standins.tiktok.hang_next(TOKEN, 1.5)
    if via == "refresh":
        assert refresh(signed_in_client, "tiktok", standins.tiktok.account_id).status_code == 502
    else:
        set_ago(provider_app, "tiktok", "expires_at", -timedelta(minutes=5))
        assert run_refresh_due(provider_app) == "refreshed=0 failed=1 skipped=0 expired=0"
        with provider_app.app_context():  # the backoff has passed
            db.session.execute(update(Integration).values(next_refresh_at=utcnow()))
            db.session.commit()
    answered_meanwhile(standins.tiktok, TOKEN)
    assert standins.tiktok.token_state(old) == "revoked"  # TikTok rotated it; we kept the old
    assert refresh_token(provider_app) == old
    assert stored(provider_app, "tiktok")["renewal_unanswered_at"] is not None


@pytest.mark.parametrize("via", ["refresh", "refresh_due"])
def test_a_lost_rotation_reads_renewal_interrupted_not_access_revoked(
    signed_in_client, standins, provider_app, logs, via
):
    connect_via_oauth(signed_in_client, "tiktok")
    lose_a_rotation(signed_in_client, standins, provider_app, via)
    counted = marked_dead(signed_in_client, "tiktok", "renewal_interrupted", via)
    revoked = marked_dead(signed_in_client, "tiktok", "access_revoked", via)

    if via == "refresh":
        assert refresh(signed_in_client, "tiktok", standins.tiktok.account_id).status_code == 409
    else:
        assert run_refresh_due(provider_app) == "refreshed=0 failed=1 skipped=0 expired=0"

    row = stored(provider_app, "tiktok")
    assert (row["expired_reason"], row["expired_detail"]) == (
        "renewal_interrupted",
        "invalid_grant",
    )
    item = status_of(signed_in_client, "tiktok")
    assert item["status"] == "expired"
    check_event(bodies(provider_app)[-1], "integration.expired", "renewal_interrupted", item)
    assert marked_dead(signed_in_client, "tiktok", "renewal_interrupted", via) == counted + 1
    assert marked_dead(signed_in_client, "tiktok", "access_revoked", via) == revoked
    [line] = [line for line in logs if line["level"] == "error"]
    assert (line["logger"], line["reason"], line["via"]) == (
        "webapp.refresh",
        "renewal_interrupted",
        via,
    )
    page = signed_in_client.get("/integrations").get_data(as_text=True)
    assert "Renewal was interrupted: reconnect needed" in page
    assert "Access was removed on TikTok" not in page


def test_a_reconnect_after_a_lost_rotation_works_and_forgets_it(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    lose_a_rotation(signed_in_client, standins, provider_app, "refresh")
    assert refresh(signed_in_client, "tiktok", standins.tiktok.account_id).status_code == 409

    connect_via_oauth(signed_in_client, "tiktok")

    row = stored(provider_app, "tiktok")
    assert (row["expired_reason"], row["renewal_unanswered_at"]) == (None, None)
    assert status_of(signed_in_client, "tiktok")["status"] == "connected"


def test_a_request_dropped_before_the_provider_acted_loses_nothing(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")
    standins.tiktok.reset_next(TOKEN)  # the connection drops before TikTok reads it
    assert refresh(signed_in_client, "tiktok", standins.tiktok.account_id).status_code == 502
    assert stored(provider_app, "tiktok")["renewal_unanswered_at"] is not None

    again = refresh(signed_in_client, "tiktok", standins.tiktok.account_id)

    assert again.status_code == 200  # the old refresh token still works: nothing was lost
    row = stored(provider_app, "tiktok")
    assert (row["expired_reason"], row["renewal_unanswered_at"]) == (None, None)
