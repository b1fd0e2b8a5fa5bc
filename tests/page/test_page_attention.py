"""What the page says about accounts that need their creator: why each card expired, how many
need attention, Disconnect on every card, one message per action and one-time notices."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.integrations.status import IntegrationStatus
from webapp.models import Integration
from webapp.timeutil import utcnow
from webapp.web.messages import expired_why

from ..support.app import connect_via_oauth
from ..support.page import HX, card, csrf

SUMMARY = re.compile(r'<div id="attention"[^>]*>(.*?)</div>', re.S)


def add_rows(app, *rows: dict) -> None:
    with app.app_context():
        for fields in rows:
            db.session.add(
                Integration(user_id=1, account_name=f"@{fields['account_id']}", **fields)
            )
        db.session.commit()


def expired_row(provider: str, account_id: str, **fields) -> dict:
    return {
        "provider": provider,
        "account_id": account_id,
        "expires_at": utcnow() - timedelta(hours=3),
        "refresh_token": "rt",
        **fields,
    }


def connected_row(provider: str, account_id: str) -> dict:
    return {
        "provider": provider,
        "account_id": account_id,
        "expires_at": utcnow() + timedelta(days=9, hours=1),
    }


def summary(html: str) -> str:
    """The words of the attention summary, tags and spacing dropped."""
    [inner] = SUMMARY.findall(html)
    return " ".join(re.sub(r"<[^>]+>", " ", inner).split())


def count(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Integration)).scalar()


def status(item_reason: str | None, *, expires_at=None, failed: int = 0, provider="tiktok"):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return IntegrationStatus(
        id=1,
        provider=provider,
        account_id="a",
        account_name="@a",
        status="expired",
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
        reason=item_reason,
        failed_refreshes=failed,
    )


@pytest.mark.parametrize(
    ("item", "words"),
    [
        (status("expired", expires_at=datetime(2026, 11, 3, 8, tzinfo=UTC)), "Expired on 3 Nov"),
        (
            status("expired", expires_at=datetime(2025, 11, 3, 8, tzinfo=UTC)),
            "Expired on 3 Nov 2025",
        ),
        (status("expired"), "Needs to be reconnected"),  # no expiry passed: the grant ran out
        (status("access_revoked", provider="reddit"), "Access was removed on Reddit"),
        (status("provider_removed"), "Access was removed on TikTok"),
        (status("refresh_failed", failed=5), "Couldn't be renewed after 5 tries"),
        (status("refresh_failed", failed=1), "Couldn't be renewed after 1 try"),
    ],
)
def test_why_a_card_expired_in_words(item, words):
    assert expired_why(item, datetime(2026, 12, 1, tzinfo=UTC)) == words


def test_each_expired_card_says_why(provider_app, signed_in_client):
    add_rows(
        provider_app,
        expired_row("instagram", "ran_out", expires_at=datetime(2025, 11, 3, 9, tzinfo=UTC)),
        expired_row("tiktok", "failing", refresh_failures=5),
        expired_row("reddit", "failed_once", refresh_failures=1),
        expired_row("tiktok", "removed", expired_reason="provider_removed"),
        connected_row("reddit", "working"),
    )

    html = signed_in_client.get("/integrations").get_data(as_text=True)

    ran_out = card(html, "@ran_out")
    assert "Expired on 3 Nov 2025</time>" in ran_out
    assert 'title="2025-11-03T09:00:00.000Z"' in ran_out  # the exact expiry as a tooltip
    assert "Couldn&#39;t be renewed after 5 tries" in card(html, "@failing")
    assert "Couldn&#39;t be renewed after 1 try<" in card(html, "@failed_once")
    assert "Access was removed on TikTok" in card(html, "@removed")
    assert "expires in 9 days" in card(html, "@working")


def test_a_grant_revoked_at_the_provider_reads_removed_after_refresh(
    provider_app, signed_in_client, standins
):
    connect_via_oauth(signed_in_client, "reddit")
    standins.reddit.revoke_all()

    refused = signed_in_client.post(
        f"/api/integrations/refresh/reddit/{standins.reddit.account_id}"
    )
    html = signed_in_client.get("/integrations").get_data(as_text=True)

    assert refused.status_code == 409
    reddit = card(html, f"u/{standins.reddit.account_name}")
    assert "Expired</span>" in reddit
    assert "Access was removed on Reddit" in reddit
    assert summary(html) == "! 1 account needs attention"


def tiktok_webhook(client, standins, event: dict):
    body = json.dumps(event).encode()
    stamp = str(int(time.time()))
    secret = standins.tiktok.client_secret.encode()
    signature = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return client.post(
        "/api/webhooks/tiktok",
        data=body,
        headers={
            "TikTok-Signature": f"t={stamp},s={signature}",
            "Content-Type": "application/json",
        },
    )


def test_an_app_removed_in_tiktok_reads_removed_on_the_page(
    provider_app, signed_in_client, standins
):
    connect_via_oauth(signed_in_client, "tiktok")

    answer = tiktok_webhook(
        provider_app.test_client(),
        standins,
        {
            "client_key": standins.tiktok.settings()["TIKTOK_CLIENT_ID"],
            "event": "authorization.removed",
            "create_time": int(time.time()),
            "user_openid": standins.tiktok.account_id,
            "content": json.dumps({"reason": 1}),
        },
    )
    html = signed_in_client.get("/integrations").get_data(as_text=True)

    assert answer.status_code == 200
    assert "Access was removed on TikTok" in card(html, f"@{standins.tiktok.account_name}")


@pytest.mark.parametrize(
    ("expired", "words"),
    [(0, ""), (1, "! 1 account needs attention"), (2, "! 2 accounts need attention")],
)
def test_summary_counts_the_accounts_that_need_attention(
    provider_app, signed_in_client, expired, words
):
    add_rows(
        provider_app,
        connected_row("instagram", "fine"),
        *[expired_row("tiktok", f"dead{n}") for n in range(expired)],
    )

    page = signed_in_client.get("/integrations").get_data(as_text=True)
    poll = signed_in_client.get("/integrations", headers=HX).get_data(as_text=True)

    assert summary(page) == words
    assert 'aria-live="polite"' in SUMMARY.search(page)[0]  # there from the start, even empty
    assert summary(poll) == words
    assert re.search(r'<div id="attention"[^>]* hx-swap-oob="innerHTML">', poll)


def test_expired_card_offers_reconnect_and_disconnect(provider_app, signed_in_client):
    add_rows(provider_app, expired_row("tiktok", "dead"), connected_row("reddit", "fine"))

    html = signed_in_client.get("/integrations").get_data(as_text=True)

    dead, fine = card(html, "@dead"), card(html, "@fine")
    assert 'aria-label="Reconnect TikTok account @dead">Reconnect</button>' in dead
    assert 'aria-label="Disconnect TikTok account @dead">Disconnect</button>' in dead
    assert 'hx-confirm="Disconnect TikTok account @dead?' in dead
    assert 'action="/integrations/tiktok/dead/disconnect"' in dead  # the no-JS form
    assert "Reconnect" not in fine and "Disconnect Reddit account @fine" in fine


def test_disconnecting_an_expired_card_updates_the_summary(provider_app, signed_in_client):
    add_rows(provider_app, expired_row("tiktok", "dead1"), expired_row("tiktok", "dead2"))
    token = csrf(signed_in_client)

    answer = signed_in_client.delete(
        "/integrations/tiktok/dead1/disconnect", headers={**HX, "X-CSRF-Token": token}
    )
    plain = signed_in_client.post(
        "/integrations/tiktok/dead2/disconnect", data={"csrf_token": token}
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "<li" not in html  # the card's own swap, with nothing, removes it
    assert "TikTok is disconnected." in html
    assert summary(html) == "! 1 account needs attention"
    assert plain.status_code == 303
    assert plain.headers["Location"] == "/integrations?disconnected=tiktok"
    assert count(provider_app) == 0


def test_reconnect_swaps_the_card_and_empties_the_summary(provider_app, signed_in_client, standins):
    connect_via_oauth(signed_in_client, "tiktok")
    with provider_app.app_context():
        row = db.session.execute(select(Integration)).scalar_one()
        row.expires_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
    assert summary(signed_in_client.get("/integrations").get_data(as_text=True)) == (
        "! 1 account needs attention"
    )

    answer = signed_in_client.post(
        f"/integrations/tiktok/{standins.tiktok.account_id}/reconnect",
        headers={**HX, "X-CSRF-Token": csrf(signed_in_client)},
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert html.lstrip().startswith('<li id="integration-')
    assert "Connected</span>" in card(html, f"@{standins.tiktok.account_name}")
    assert "TikTok is reconnected." in html
    assert summary(html) == ""


def test_an_action_message_replaces_the_last_one(provider_app, signed_in_client):
    add_rows(provider_app, connected_row("reddit", "fine"))

    html = signed_in_client.delete(
        "/integrations/reddit/fine/disconnect",
        headers={**HX, "X-CSRF-Token": csrf(signed_in_client)},
    ).get_data(as_text=True)

    assert '<div id="messages" hx-swap-oob="innerHTML">' in html
    assert "afterbegin" not in html


def meta_signed_request(secret: str, user_id: str) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = b64(
        json.dumps(
            {"algorithm": "HMAC-SHA256", "issued_at": int(time.time()), "user_id": user_id}
        ).encode()
    )
    signature = b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"{signature}.{payload}"


def test_removed_at_request_shows_once_on_the_next_full_load(
    provider_app, signed_in_client, standins
):
    connect_via_oauth(signed_in_client, "instagram")
    add_rows(provider_app, connected_row("reddit", "fine"))
    deletion = provider_app.test_client().post(
        "/api/webhooks/instagram/data-deletion",
        data={
            "signed_request": meta_signed_request(
                standins.instagram.client_secret, standins.instagram.app_scoped_id
            )
        },
    )
    assert deletion.status_code == 200

    poll = signed_in_client.get("/integrations", headers=HX).get_data(as_text=True)
    first = signed_in_client.get("/integrations").get_data(as_text=True)
    second = signed_in_client.get("/integrations").get_data(as_text=True)

    said = "Your Instagram account was removed at your request, with its access."
    assert said not in poll  # a poll swaps the list; the notice waits for a full load
    assert "card provider-instagram" not in first and "card provider-reddit" in first
    assert first.count(said) == 1
    assert 'data-message="removed_at_request"' in first
    assert said not in second
    assert count(provider_app) == 1
