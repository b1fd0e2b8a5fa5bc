"""Connecting accounts: OAuth 2.0 against the provider stand-ins, and OnlyFans API keys."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import func, select, text, update

from tests.standins import authorize_redirect
from webapp.extensions import db
from webapp.models import Integration, OAuthState
from webapp.timeutil import utcnow

from ..support.app import connect_via_oauth

OAUTH = ["instagram", "tiktok", "reddit"]


def rows(app) -> list[Integration]:
    with app.app_context():
        return list(db.session.execute(select(Integration).order_by(Integration.id)).scalars())


def statuses(client) -> list[dict]:
    return client.get("/api/integrations/status").get_json()["data"]["integrations"]


@pytest.mark.parametrize("provider", OAUTH)
def test_connect_flow_ends_on_the_page_and_the_account_shows(signed_in_client, standins, provider):
    response = connect_via_oauth(signed_in_client, provider)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/integrations?connected={provider}"
    [item] = statuses(signed_in_client)
    standin = standins[provider]
    assert item["provider"] == provider
    assert item["accountId"] == standin.account_id
    assert standin.account_name in item["accountName"]
    assert item["status"] == "connected"
    assert item["expiresAt"] is not None


def test_authorization_url_names_the_client_and_our_callback(signed_in_client, standins):
    started = signed_in_client.post("/api/integrations/connect/reddit").get_json()["data"]
    query = dict(parse_qsl(urlsplit(started["authorizationUrl"]).query))

    assert started["authorizationUrl"].startswith(standins.reddit.base_url + "/api/v1/authorize?")
    assert query["client_id"] == standins.reddit.client_id
    assert query["redirect_uri"] == "http://localhost/api/integrations/callback/reddit"
    assert query["duration"] == "permanent"
    assert len(query["state"]) >= 43


def test_public_base_url_sets_the_callback_origin(make_app, standins, add_user, db_session_cookie):
    app = make_app(**standins.settings(), PUBLIC_BASE_URL="https://app.example.com")
    add_user(1)
    client = app.test_client()
    client.set_cookie("__Secure-next-auth.session-token", db_session_cookie(1))

    url = client.post("/api/integrations/connect/tiktok").get_json()["data"]["authorizationUrl"]

    assert dict(parse_qsl(urlsplit(url).query))["redirect_uri"] == (
        "https://app.example.com/api/integrations/callback/tiktok"
    )


def test_tiktok_speaks_client_key_and_stores_both_tokens_encrypted(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "tiktok")

    [token_call] = standins.tiktok.requests_to("/v2/oauth/token/")
    assert token_call.form["client_key"] == standins.tiktok.client_id
    assert "client_id" not in token_call.form
    assert token_call.form["grant_type"] == "authorization_code"
    [row] = rows(provider_app)
    assert row.access_token.startswith("act.") and row.refresh_token.startswith("rft.")
    with provider_app.app_context():
        raw = db.session.execute(text("SELECT access_token, refresh_token FROM integrations")).one()
    assert row.access_token not in raw[0] and row.refresh_token not in raw[1]


def test_reddit_uses_basic_auth_and_a_descriptive_user_agent(signed_in_client, standins):
    connect_via_oauth(signed_in_client, "reddit")

    calls = standins.reddit.requests
    token_call = next(c for c in calls if c.path == "/api/v1/access_token")
    assert token_call.basic_auth == (standins.reddit.client_id, standins.reddit.client_secret)
    assert all(
        c.user_agent.startswith("web:creator-integrations:")
        for c in calls
        if c.path != "/api/v1/authorize"
    )
    assert standins.reddit.throttled == []


@pytest.mark.parametrize("shape", ["top_level", "data"])
def test_instagram_short_lived_token_is_exchanged_for_a_long_lived_one(
    signed_in_client, standins, provider_app, shape
):
    standins.instagram.code_response_shape = shape

    connect_via_oauth(signed_in_client, "instagram")

    exchanges = standins.instagram.requests_to("/access_token")
    assert [c.query["grant_type"] for c in exchanges] == ["ig_exchange_token"]
    [row] = rows(provider_app)
    assert row.account_id == standins.instagram.account_id
    left = row.expires_at - row.updated_at
    assert timedelta(days=59) < left <= timedelta(days=61)


def test_reconnecting_the_same_account_updates_it_in_place(signed_in_client, provider_app):
    connect_via_oauth(signed_in_client, "tiktok")
    [first] = rows(provider_app)

    connect_via_oauth(signed_in_client, "tiktok")

    [again] = rows(provider_app)
    assert again.id == first.id
    assert again.access_token != first.access_token


def test_htmx_connect_answers_with_hx_redirect(signed_in_client):
    page = signed_in_client.get("/integrations").get_data(as_text=True)
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page)[1]

    response = signed_in_client.post(
        "/api/integrations/connect/tiktok", headers={"HX-Request": "true", "X-CSRF-Token": token}
    )

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == response.get_json()["data"]["authorizationUrl"]


def _start(client, provider="tiktok") -> str:
    url = client.post(f"/api/integrations/connect/{provider}").get_json()["data"][
        "authorizationUrl"
    ]
    back = urlsplit(authorize_redirect(url))
    return f"{back.path}?{back.query}"


def test_replayed_state_changes_nothing(signed_in_client, provider_app):
    callback = _start(signed_in_client)
    assert signed_in_client.get(callback).headers["Location"] == "/integrations?connected=tiktok"
    [before] = rows(provider_app)

    replay = signed_in_client.get(callback)

    assert replay.headers["Location"] == "/integrations?error=state_invalid&provider=tiktok"
    [after] = rows(provider_app)
    assert (after.id, after.access_token) == (before.id, before.access_token)


def test_forged_state_changes_nothing(signed_in_client, provider_app):
    callback = _start(signed_in_client)
    forged = callback.replace("state=", "state=x")

    response = signed_in_client.get(forged)

    assert response.headers["Location"] == "/integrations?error=state_invalid&provider=tiktok"
    assert rows(provider_app) == []


def test_expired_state_changes_nothing(signed_in_client, provider_app):
    callback = _start(signed_in_client)
    with provider_app.app_context():
        db.session.execute(update(OAuthState).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    response = signed_in_client.get(callback)

    assert "error=state_invalid" in response.headers["Location"]
    assert rows(provider_app) == []


def test_another_users_state_changes_nothing_and_stays_theirs(
    signed_in_client, provider_app, add_user, db_session_cookie
):
    callback = _start(signed_in_client)
    add_user(2)
    intruder = provider_app.test_client()
    intruder.set_cookie("next-auth.session-token", db_session_cookie(2))

    stolen = intruder.get(callback)

    assert "error=state_invalid" in stolen.headers["Location"]
    assert rows(provider_app) == []
    assert signed_in_client.get(callback).headers["Location"] == "/integrations?connected=tiktok"


def test_state_for_one_provider_does_not_complete_another(signed_in_client, provider_app):
    callback = _start(signed_in_client, "tiktok").replace("/callback/tiktok", "/callback/reddit")

    assert "error=state_invalid" in signed_in_client.get(callback).headers["Location"]
    assert rows(provider_app) == []


def test_provider_error_parameter_changes_nothing(signed_in_client, standins, provider_app):
    standins.reddit.deny_next_authorize()
    url = signed_in_client.post("/api/integrations/connect/reddit").get_json()["data"][
        "authorizationUrl"
    ]
    back = urlsplit(authorize_redirect(url))

    response = signed_in_client.get(f"{back.path}?{back.query}")

    assert response.headers["Location"] == "/integrations?error=access_denied&provider=reddit"
    assert rows(provider_app) == []


def test_provider_down_during_code_exchange_ends_on_the_page(
    signed_in_client, standins, provider_app
):
    callback = _start(signed_in_client, "reddit")
    standins.reddit.fail_next("/api/v1/access_token", 503, times=3)

    response = signed_in_client.get(callback)

    assert response.headers["Location"] == (
        "/integrations?error=provider_unavailable&provider=reddit"
    )
    assert rows(provider_app) == []


def test_signed_out_callback_ends_on_the_page(provider_app):
    response = provider_app.test_client().get("/api/integrations/callback/tiktok?code=x&state=y")

    assert response.status_code == 303
    assert response.headers["Location"] == "/integrations?error=signed_out&provider=tiktok"


def test_state_is_stored_only_as_a_hash(signed_in_client, provider_app):
    callback = _start(signed_in_client)
    state = dict(parse_qsl(urlsplit(callback).query))["state"]

    with provider_app.app_context():
        stored = db.session.execute(text("SELECT state_hash FROM oauth_states")).scalar_one()
    assert state not in stored


def test_unknown_provider_gets_400(signed_in_client):
    for response in (
        signed_in_client.post("/api/integrations/connect/myspace"),
        signed_in_client.post("/api/integrations/refresh/myspace/abc"),
        signed_in_client.delete("/api/integrations/disconnect/myspace/abc"),
    ):
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "INVALID_PROVIDER"


def test_unknown_provider_callback_ends_on_the_page_without_echoing_it(signed_in_client):
    response = signed_in_client.get("/api/integrations/callback/%3Cb%3Emyspace?code=x&state=y")

    assert response.status_code == 303
    assert response.headers["Location"] == "/integrations?error=invalid_provider"


def test_unconfigured_provider_gets_400(client, add_user, db_session_cookie):
    add_user(1)
    client.set_cookie("next-auth.session-token", db_session_cookie(1))

    response = client.post("/api/integrations/connect/tiktok")

    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "INVALID_PROVIDER",
        "message": "tiktok is not available",
    }


ONLYFANS = {
    "accountId": "creator_of",
    "accountName": "Creator OF",
    "apiKey": "ofapi_0123456789abcdef",
}


def test_onlyfans_connects_with_an_api_key_and_no_expiry(signed_in_client, provider_app):
    response = signed_in_client.post("/api/integrations/connect/onlyfans", json=ONLYFANS)

    assert response.status_code == 201
    item = response.get_json()["data"]["integration"]
    assert (item["provider"], item["accountId"], item["status"], item["expiresAt"]) == (
        "onlyfans",
        "creator_of",
        "connected",
        None,
    )
    [row] = rows(provider_app)
    assert row.api_key == ONLYFANS["apiKey"]
    with provider_app.app_context():
        raw = db.session.execute(text("SELECT api_key FROM integrations")).scalar_one()
    assert ONLYFANS["apiKey"] not in raw


def test_onlyfans_reconnect_updates_in_place(signed_in_client, provider_app):
    first = signed_in_client.post("/api/integrations/connect/onlyfans", json=ONLYFANS).get_json()
    again = signed_in_client.post(
        "/api/integrations/connect/onlyfans", json=ONLYFANS | {"apiKey": "ofapi_new_key_0123456789"}
    )

    assert again.status_code == 200
    assert again.get_json()["data"]["integration"]["id"] == first["data"]["integration"]["id"]
    assert rows(provider_app)[0].api_key == "ofapi_new_key_0123456789"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("accountId", None),
        ("accountId", 12345),
        ("accountId", ""),
        ("accountId", "a" * 65),
        ("accountId", "has space"),
        ("accountId", "<script>"),
        ("accountId", "' OR 1=1 --"),
        ("accountName", ""),
        ("accountName", "x" * 101),
        ("accountName", "bad\x00name"),
        ("accountName", ["list"]),
        ("accountName", "invoice\u202egnp.exe"),
        ("apiKey", "short"),
        ("apiKey", "has spaces in the key here"),
        ("apiKey", "k" * 513),
        ("apiKey", {"nested": True}),
        ("apiKey", "clé-non-ascii-123456"),
    ],
)
def test_onlyfans_rejects_each_bad_field_by_name(signed_in_client, provider_app, field, value):
    body = dict(ONLYFANS)
    if value is None:
        del body[field]
    else:
        body[field] = value

    response = signed_in_client.post("/api/integrations/connect/onlyfans", json=body)

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", field)
    assert field in error["message"]
    assert rows(provider_app) == []


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b'"string"', b"null"])
def test_onlyfans_rejects_a_body_that_is_not_an_object(signed_in_client, provider_app, body):
    response = signed_in_client.post(
        "/api/integrations/connect/onlyfans", data=body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert rows(provider_app) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ],
)
def test_cross_site_state_changes_get_403(signed_in_client, provider_app, headers):
    connect = signed_in_client.post(
        "/api/integrations/connect/onlyfans", json=ONLYFANS, headers=headers
    )

    assert connect.status_code == 403
    assert connect.get_json()["error"]["code"] == "FORBIDDEN"
    assert rows(provider_app) == []


def test_cross_site_form_post_without_token_gets_403(signed_in_client, provider_app):
    response = signed_in_client.post("/api/integrations/connect/onlyfans", data=ONLYFANS)

    assert response.status_code == 403
    assert rows(provider_app) == []


def test_the_nextauth_front_end_origin_may_call_the_api(signed_in_client, provider_app):
    response = signed_in_client.post(
        "/api/integrations/connect/onlyfans",
        json=ONLYFANS,
        headers={"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"},
    )

    assert response.status_code == 201


def test_connect_endpoints_are_rate_limited_per_user(
    make_app, standins, add_user, db_session_cookie
):
    app = make_app(**standins.settings(), STATUS_RATE_LIMIT="3 per minute")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))

    codes = [client.post("/api/integrations/connect/tiktok").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(OAuthState)).scalar() == 3
