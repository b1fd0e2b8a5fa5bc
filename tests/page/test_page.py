"""GET /integrations and its actions through Flask's test client: the HTML that is served."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Integration
from webapp.timeutil import utcnow
from webapp.web.messages import relative_expiry

from ..support.page import HX, csrf


@pytest.fixture
def client_with_cards(app, client, add_user, db_session_cookie):
    """The test client, signed in as user 1: Instagram, an expired TikTok and OnlyFans."""
    now = utcnow()
    add_user(
        1,
        [
            {
                "provider": "instagram",
                "account_id": "ig1",
                "account_name": "@creator_account",
                "expires_at": now + timedelta(days=12, hours=1),
            },
            {
                "provider": "tiktok",
                "account_id": "tt1",
                "account_name": "@tiktok_creator",
                "expires_at": now - timedelta(hours=3, minutes=5),
                "refresh_token": "rt",
            },
            {
                "provider": "onlyfans",
                "account_id": "of1",
                "account_name": "creator_of",
                "api_key": "k" * 20,
            },
        ],
    )
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    return client


def count(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Integration)).scalar()


def test_signed_out_visitor_is_sent_to_nextauth_sign_in(client):
    response = client.get("/integrations")

    assert response.status_code == 302
    assert response.headers["Location"] == (
        "http://localhost:3000/api/auth/signin?callbackUrl=http%3A%2F%2Flocalhost%2Fintegrations"
    )


def test_page_lists_one_card_per_integration(client_with_cards):
    response = client_with_cards.get("/integrations")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert len(re.findall(r'<li id="integration-\d+" class="card', html)) == 3
    assert html.count(">!</span> Expired</span>") == 1
    assert html.count("&#10003;</span> Connected</span>") == 2
    assert "expires in 12 days" in html
    assert "Expired on " in html
    assert "no expiry" in html
    assert re.search(r'<time [^>]*datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z" title=', html)


def test_expired_card_offers_reconnect_and_every_card_disconnect(client_with_cards):
    html = client_with_cards.get("/integrations").get_data(as_text=True)

    assert 'aria-label="Reconnect TikTok account @tiktok_creator">Reconnect</button>' in html
    assert 'aria-label="Disconnect TikTok account @tiktok_creator">Disconnect' in html
    assert 'aria-label="Disconnect Instagram account @creator_account">Disconnect' in html
    assert 'hx-confirm="Disconnect Instagram account @creator_account?' in html
    assert "Reconnect Instagram" not in html


def test_htmx_request_gets_the_list_fragment_only(client_with_cards):
    response = client_with_cards.get("/integrations", headers=HX)
    html = response.get_data(as_text=True)

    assert html.lstrip().startswith('<ul id="integration-list"')
    assert 'hx-trigger="every 60s"' in html
    assert "<html" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_page_sends_a_strict_content_security_policy(client_with_cards):
    response = client_with_cards.get("/integrations")
    csp = response.headers["Content-Security-Policy"]

    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and " on" + "click" not in html


def test_every_form_and_the_body_carry_the_csrf_token(client_with_cards):
    html = client_with_cards.get("/integrations").get_data(as_text=True)
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', html)[1]

    forms = html.count("<form ")
    assert forms >= 4
    assert html.count(f'name="csrf_token" value="{token}"') == forms


def test_callback_outcomes_show_as_messages_without_reflecting_input(client_with_cards):
    connected = client_with_cards.get("/integrations?connected=tiktok").get_data(as_text=True)
    failed = client_with_cards.get("/integrations?error=state_invalid&provider=reddit").get_data(
        as_text=True
    )
    hostile = client_with_cards.get("/integrations?error=<script>x</script>&provider=<b>").get_data(
        as_text=True
    )

    assert "TikTok is connected." in connected
    assert "connect Reddit again" in failed
    assert "<script>x" not in hostile and "&lt;script&gt;" not in hostile
    assert 'data-message="' not in hostile


def test_no_js_disconnect_posts_a_form_and_is_redirected(app, client_with_cards):
    response = client_with_cards.post(
        "/integrations/instagram/ig1/disconnect", data={"csrf_token": csrf(client_with_cards)}
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/integrations?disconnected=instagram"
    assert count(app) == 2


def test_htmx_disconnect_removes_the_card_and_says_so(app, client_with_cards):
    token = csrf(client_with_cards)
    response = client_with_cards.delete(
        "/integrations/instagram/ig1/disconnect", headers={**HX, "X-CSRF-Token": token}
    )

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<div id="messages" hx-swap-oob="innerHTML">' in html
    assert "Instagram is disconnected." in html
    assert "<li" not in html
    assert count(app) == 2


def test_state_change_without_csrf_token_is_refused_and_changes_nothing(app, client_with_cards):
    plain = client_with_cards.post("/integrations/instagram/ig1/disconnect")
    htmx = client_with_cards.delete("/integrations/instagram/ig1/disconnect", headers=HX)

    assert plain.status_code == 303 and "error=forbidden" in plain.headers["Location"]
    assert htmx.status_code == 403
    assert count(app) == 3


def test_cross_site_post_is_refused(app, client_with_cards):
    token = csrf(client_with_cards)
    response = client_with_cards.post(
        "/integrations/instagram/ig1/disconnect",
        data={"csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )

    assert "error=forbidden" in response.headers["Location"]
    assert count(app) == 3


def test_onlyfans_form_shows_inline_errors_and_keeps_what_was_typed(app, client_with_cards):
    response = client_with_cards.post(
        "/integrations/connect/onlyfans",
        data={
            "csrf_token": csrf(client_with_cards),
            "accountId": "fan page!",
            "accountName": "Me",
            "apiKey": "secret-key-1234567890",
        },
    )
    html = response.get_data(as_text=True)

    assert response.status_code == 422
    assert 'aria-invalid="true"' in html
    assert "Account ID must be" in html
    assert 'value="Me"' in html
    assert "secret-key-1234567890" not in html
    assert count(app) == 3


def field_input(html: str, field: str) -> str:
    """The OnlyFans form's <input> of one field, as served."""
    return re.search(rf'<input id="of-{field}"[^>]*>', html)[0]


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_onlyfans_form_marks_every_bad_field_at_once(app, client_with_cards, headers):
    response = client_with_cards.post(
        "/integrations/connect/onlyfans",
        headers=headers,
        data={
            "csrf_token": csrf(client_with_cards),
            "accountId": "..",
            "accountName": "Fan\u00adpage",
            "apiKey": "secret-key-1234567890",
        },
    )
    html = response.get_data(as_text=True)

    assert response.status_code == 422
    for field, typed in [("accountId", ".."), ("accountName", "Fan\u00adpage")]:
        tag = field_input(html, field)
        assert 'aria-invalid="true"' in tag
        assert f'aria-describedby="of-{field}-help of-{field}-error"' in tag
        assert f'value="{typed}"' in tag
    assert "aria-invalid" not in field_input(html, "apiKey")
    assert re.search(r'id="of-accountId-error"[^>]*>Account ID must be [^<]*\.\.', html)
    assert re.search(r'id="of-accountName-error"[^>]*>Account name must be [^<]+<', html)
    assert 'id="of-apiKey-error"' not in html
    assert "secret-key-1234567890" not in html
    assert count(app) == 3


def test_onlyfans_form_over_htmx_returns_the_form_with_errors(client_with_cards):
    response = client_with_cards.post(
        "/integrations/connect/onlyfans",
        headers=HX,
        data={
            "csrf_token": csrf(client_with_cards),
            "accountId": "fans",
            "accountName": "Me",
            "apiKey": "short",
        },
    )
    html = response.get_data(as_text=True)

    assert response.status_code == 422
    assert html.lstrip().startswith('<form id="onlyfans-form"')
    assert 'id="of-apiKey-error"' in html


def test_onlyfans_form_connects_and_swaps_the_list(app, client_with_cards):
    response = client_with_cards.post(
        "/integrations/connect/onlyfans",
        headers=HX,
        data={
            "csrf_token": csrf(client_with_cards),
            "accountId": "fans_2",
            "accountName": "Second page",
            "apiKey": "of_live_0123456789abcdef",
        },
    )
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#integration-list"
    assert "Second page" in html and "OnlyFans is connected." in html
    assert count(app) == 4


def test_session_ended_while_polling_shows_a_sign_in_message(client_with_cards):
    client_with_cards.delete_cookie("next-auth.session-token")

    response = client_with_cards.get("/integrations", headers=HX)
    html = response.get_data(as_text=True)

    assert response.status_code == 401
    assert response.headers["HX-Retarget"] == "#messages"
    assert "Your session has ended" in html
    assert "/api/auth/signin?callbackUrl=" in html


def test_rate_limited_action_shows_a_readable_message(make_app, add_user, db_session_cookie):
    app = make_app(STATUS_RATE_LIMIT="2 per minute")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    for _ in range(2):
        client.get("/integrations", headers=HX)

    response = client.get("/integrations", headers=HX)

    assert response.status_code == 429
    assert "Too many requests" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1


def test_unknown_account_disconnect_says_it_is_gone(client_with_cards):
    response = client_with_cards.delete(
        "/integrations/instagram/nope/disconnect",
        headers={**HX, "X-CSRF-Token": csrf(client_with_cards)},
    )

    assert response.status_code == 404
    assert "no longer connected" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(days=12, hours=2), "expires in 12 days"),
        (timedelta(hours=30), "expires in 30 hours"),
        (timedelta(minutes=1, seconds=5), "expires in 1 minute"),
        (timedelta(seconds=20), "expires in less than a minute"),
        (-timedelta(seconds=1), "expires in less than a minute"),  # read a moment earlier
    ],
)
def test_expiry_in_words(delta, words):
    now = datetime(2026, 1, 1, tzinfo=UTC)

    assert relative_expiry(now + delta, now) == words
    assert relative_expiry(None, now) == "no expiry"
