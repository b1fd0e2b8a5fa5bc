"""Provider webhooks: TikTok's `authorization.removed`, Meta's deauthorize and data deletion
callbacks. Believed only when signed; idempotent; no session, no CSRF; limited per client IP."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from webapp.extensions import db
from webapp.models import Integration
from webapp.timeutil import utcnow

from ..support.app import connect_via_oauth
from ..support.grants import every_row, integrations, marked_dead, status_of, stored
from ..support.webhooks import (
    DEAUTHORIZE,
    DELETION,
    PUBLIC,
    TIKTOK,
    b64url,
    meta_payload,
    meta_signed_request,
    post_meta,
    post_tiktok,
    signed_for_instagram,
    state,
    tiktok_body,
    tiktok_signature,
)

# TikTok ---------------------------------------------------------------------------------------


def test_tiktok_authorization_removed_expires_that_account_for_every_creator(
    standins, service, sign_in, add_user, provider
):
    creators = [sign_in(1), sign_in(2)]
    for creator in creators:
        connect_via_oauth(creator, "tiktok")
        connect_via_oauth(creator, "reddit")
    other = {"provider": "tiktok", "account_id": "another-open-id", "account_name": "@other"}
    add_user(3, [other | {"access_token": "act.other", "refresh_token": "rft.other"}])
    standins.tiktok.revoke_all()  # TikTok revokes the tokens before it tells us
    counted = marked_dead(provider, "tiktok", "provider_removed", "webhook")
    for standin in standins.all:
        standin.clear_requests()
    body = tiktok_body(standins)

    response = post_tiktok(provider, body, tiktok_signature(body, standins.tiktok.client_secret))

    assert response.status_code == 200
    assert response.get_json()["data"] == {"received": True, "expired": 2}
    for user_id, creator in enumerate(creators, start=1):
        assert status_of(creator, "tiktok")["status"] == "expired"
        assert status_of(creator, "reddit")["status"] == "connected"
        row = stored(service, "tiktok", user_id)
        assert (row["expired_reason"], row["expired_detail"]) == (
            "provider_removed",
            "user_disconnected",
        )
    assert stored(service, "tiktok", 3)["expired_reason"] is None
    assert marked_dead(provider, "tiktok", "provider_removed", "webhook") == counted + 2
    # The handler called no provider: its answer waits on our database alone.
    assert [standin.requests for standin in standins.all] == [[], [], []]


@pytest.mark.parametrize(
    "fields",
    [
        {"event": "video.publish.complete"},
        {"event": "authorization.removed", "client_key": "another-apps-key"},
        {"event": "authorization.removed", "user_openid": "nobody-we-know"},
    ],
    ids=["other-event", "other-app", "unknown-account"],
)
def test_other_tiktok_events_are_answered_and_ignored(standins, service, sign_in, provider, fields):
    creator = sign_in(1)
    connect_via_oauth(creator, "tiktok")
    before = state(service)
    body = tiktok_body(standins, **fields)

    response = post_tiktok(provider, body, tiktok_signature(body, standins.tiktok.client_secret))

    assert response.status_code == 200
    assert response.get_json()["data"] == {"received": True, "expired": 0}
    assert state(service) == before
    assert status_of(creator, "tiktok")["status"] == "connected"


def test_reconnecting_after_tiktok_removed_the_app_reads_connected_with_the_same_id(
    standins, service, sign_in, provider
):
    creator = sign_in(1)
    connect_via_oauth(creator, "tiktok")
    first = status_of(creator, "tiktok")
    body = tiktok_body(standins)
    post_tiktok(provider, body, tiktok_signature(body, standins.tiktok.client_secret))
    assert status_of(creator, "tiktok")["status"] == "expired"

    connect_via_oauth(creator, "tiktok")

    again = status_of(creator, "tiktok")
    assert (again["status"], again["id"]) == ("connected", first["id"])
    assert stored(service, "tiktok")["expired_reason"] is None


def granted_an_hour_ago(app, provider: str) -> None:
    """The creator gave the stored grant an hour ago (before the removal the test sends)."""
    with app.app_context():
        db.session.execute(
            update(Integration)
            .where(Integration.provider == provider)
            .values(granted_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()


def test_a_tiktok_removal_retried_after_the_creator_reconnected_leaves_the_new_grant(
    standins, service, sign_in, provider
):
    creator = sign_in(1)
    connect_via_oauth(creator, "tiktok")
    granted_an_hour_ago(service, "tiktok")
    body = tiktok_body(standins, create_time=int(time.time()) - 60)  # removed a minute ago
    secret = standins.tiktok.client_secret
    post_tiktok(provider, body, tiktok_signature(body, secret))
    assert status_of(creator, "tiktok")["status"] == "expired"
    connect_via_oauth(creator, "tiktok")

    # TikTok retries for up to 72 hours, each delivery signed afresh: the same event.
    again = post_tiktok(provider, body, tiktok_signature(body, secret, at=time.time() + 5))

    assert again.get_json()["data"] == {"received": True, "expired": 0}
    assert status_of(creator, "tiktok")["status"] == "connected"
    assert stored(service, "tiktok")["expired_reason"] is None


def test_a_tiktok_removal_from_before_the_grant_leaves_it(standins, service, sign_in, provider):
    creator = sign_in(1)
    connect_via_oauth(creator, "tiktok")
    body = tiktok_body(standins, create_time=int(time.time()) - 120)  # arrives late

    answer = post_tiktok(provider, body, tiktok_signature(body, standins.tiktok.client_secret))

    assert answer.get_json()["data"] == {"received": True, "expired": 0}
    assert status_of(creator, "tiktok")["status"] == "connected"


def test_a_tiktok_removal_without_its_time_is_believed_as_of_now(
    standins, service, sign_in, provider
):
    creator = sign_in(1)
    connect_via_oauth(creator, "tiktok")
    body = tiktok_body(standins, create_time="yesterday")

    answer = post_tiktok(provider, body, tiktok_signature(body, standins.tiktok.client_secret))

    assert answer.get_json()["data"] == {"received": True, "expired": 1}
    assert status_of(creator, "tiktok")["status"] == "expired"


# Instagram (Meta) -----------------------------------------------------------------------------


def test_instagram_deauthorize_expires_that_account_for_every_creator(
    standins, service, sign_in, provider
):
    creators = [sign_in(1), sign_in(2)]
    for creator in creators:
        connect_via_oauth(creator, "instagram")
    counted = marked_dead(provider, "instagram", "provider_removed", "webhook")
    for standin in standins.all:
        standin.clear_requests()

    response = post_meta(provider, DEAUTHORIZE, signed_for_instagram(standins))

    assert response.status_code == 200
    assert response.get_json()["data"] == {"received": True, "expired": 2}
    for user_id, creator in enumerate(creators, start=1):
        assert status_of(creator, "instagram")["status"] == "expired"
        row = stored(service, "instagram", user_id)
        assert (row["expired_reason"], row["expired_detail"]) == (
            "provider_removed",
            "deauthorized",
        )
    assert marked_dead(provider, "instagram", "provider_removed", "webhook") == counted + 2
    assert [standin.requests for standin in standins.all] == [[], [], []]


def test_instagram_data_deletion_deletes_the_accounts_and_their_tokens(
    standins, service, sign_in, provider
):
    creators = [sign_in(1), sign_in(2)]
    for creator in creators:
        connect_via_oauth(creator, "instagram")
    connect_via_oauth(creators[0], "reddit")
    account = standins.instagram.account_id
    for standin in standins.all:
        standin.clear_requests()

    response = post_meta(provider, DELETION, signed_for_instagram(standins))

    assert response.status_code == 200
    code = response.get_json()["confirmation_code"]
    assert response.get_json() == {"url": f"{PUBLIC}{DELETION}/{code}", "confirmation_code": code}
    assert code.isalnum() and len(code) >= 16
    # Nothing of the account is left: no row, so no token either; other accounts stay.
    rows = every_row(service, "integrations")
    assert [(row[2], row[3]) for row in rows] == [("reddit", standins.reddit.account_id)]
    assert all(account not in map(str, row) for row in rows)
    [deletion] = every_row(service, "deletion_requests")
    assert all(account not in str(value) for value in deletion)  # nothing that names them
    assert [item["provider"] for item in integrations(creators[0])] == ["reddit"]
    assert integrations(creators[1]) == []
    assert [standin.requests for standin in standins.all] == [[], [], []]


def test_the_deletion_status_url_shows_the_request_as_html_and_as_json(
    standins, service, sign_in, provider
):
    connect_via_oauth(sign_in(1), "instagram")
    code = post_meta(provider, DELETION, signed_for_instagram(standins)).get_json()[
        "confirmation_code"
    ]
    visitor = service.test_client()  # whoever holds the URL: no session needed

    page = visitor.get(f"{DELETION}/{code}")
    as_json = visitor.get(f"{DELETION}/{code}", headers={"Accept": "application/json"})
    unknown = visitor.get(f"{DELETION}/0123456789abcdef0123")

    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert code in text and "Completed" in text and "1 connected account" in text
    assert as_json.status_code == 200
    status = as_json.get_json()["data"]["deletionRequest"]
    assert (status["confirmationCode"], status["status"], status["integrationsDeleted"]) == (
        code,
        "completed",
        1,
    )
    assert status["requestedAt"].endswith("Z") and status["completedAt"].endswith("Z")
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["code"] == "NOT_FOUND"


# Signatures: nothing unsigned, stale or altered is believed -----------------------------------


def tiktok_forgeries(standins) -> dict[str, tuple[bytes, str | None]]:
    secret = standins.tiktok.client_secret
    body = tiktok_body(standins)
    altered = body.replace(b'\\"reason\\": 1', b'\\"reason\\": 2')
    assert altered != body
    return {
        "bad": (body, tiktok_signature(body, "not-our-secret")),
        "missing": (body, None),
        "malformed": (body, "t=now,s=" + "0" * 64),
        "stale": (body, tiktok_signature(body, secret, time.time() - 301)),
        # Two seconds past the limit: signatures name whole seconds, so +301 could round to 300.
        "future": (body, tiktok_signature(body, secret, time.time() + 302)),
        "altered": (altered, tiktok_signature(body, secret)),
    }


def meta_forgeries(standins) -> dict[str, str | None]:
    ig = standins.instagram
    secret, account = ig.client_secret, ig.account_id
    signed = signed_for_instagram(standins)
    signature = signed.split(".")[0]
    return {
        "bad": meta_signed_request(meta_payload(account), "not-our-secret"),
        "missing": None,
        "malformed": "not-a-signed-request",
        "stale": meta_signed_request(meta_payload(account, time.time() - 301), secret),
        "future": meta_signed_request(meta_payload(account, time.time() + 302), secret),
        "altered": f"{signature}.{meta_payload(account, extra='x')}",
        "other-algorithm": meta_signed_request(meta_payload(account, algorithm="none"), secret),
    }


FORGERIES = ["bad", "missing", "malformed", "stale", "future", "altered"]


def assert_refused(response) -> None:
    assert response.status_code == 401
    body = response.get_json()
    assert list(body) == ["success", "error", "duration"] and body["success"] is False
    assert body["error"] == {
        "code": "INVALID_SIGNATURE",
        "message": "Missing, invalid or expired signature",
    }


@pytest.mark.parametrize("forgery", FORGERIES)
def test_tiktok_refuses_what_tiktok_did_not_sign_just_now(
    standins, service, sign_in, provider, forgery
):
    connect_via_oauth(sign_in(1), "tiktok")
    before = state(service)
    body, signature = tiktok_forgeries(standins)[forgery]

    assert_refused(post_tiktok(provider, body, signature))
    assert state(service) == before


@pytest.mark.parametrize("forgery", [*FORGERIES, "other-algorithm"])
@pytest.mark.parametrize("path", [DEAUTHORIZE, DELETION])
def test_meta_callbacks_refuse_what_meta_did_not_sign_just_now(
    standins, service, sign_in, provider, path, forgery
):
    connect_via_oauth(sign_in(1), "instagram")
    before = state(service)

    assert_refused(post_meta(provider, path, meta_forgeries(standins)[forgery]))
    assert state(service) == before


def test_a_signature_four_minutes_old_is_still_believed(standins, service, sign_in, provider):
    creator = sign_in(1)
    connect_via_oauth(creator, "tiktok")
    connect_via_oauth(creator, "instagram")
    for provider_name in ("tiktok", "instagram"):
        granted_an_hour_ago(service, provider_name)  # before the removals, four minutes ago
    body = tiktok_body(standins, create_time=int(time.time()) - 240)
    secret = standins.tiktok.client_secret
    ig = standins.instagram
    late = meta_signed_request(meta_payload(ig.account_id, time.time() - 240), ig.client_secret)

    assert post_tiktok(provider, body, tiktok_signature(body, secret, time.time() - 240)).json[
        "data"
    ] == {"received": True, "expired": 1}
    assert post_meta(provider, DEAUTHORIZE, late).get_json()["data"]["expired"] == 1


def test_a_signed_payload_in_no_documented_shape_is_a_400(standins, service, provider):
    secret = standins.tiktok.client_secret
    ig = standins.instagram
    not_json = b"event=authorization.removed"
    no_user = meta_signed_request(
        b64url(json.dumps({"algorithm": "HMAC-SHA256", "issued_at": int(time.time())}).encode()),
        ig.client_secret,
    )

    for response in [
        post_tiktok(provider, not_json, tiktok_signature(not_json, secret)),
        post_meta(provider, DEAUTHORIZE, no_user),
    ]:
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "BAD_REQUEST"


# Redelivery changes nothing more ------------------------------------------------------------


def test_a_redelivered_tiktok_event_changes_nothing_more(standins, service, sign_in, provider):
    connect_via_oauth(sign_in(1), "tiktok")
    body = tiktok_body(standins)
    signature = tiktok_signature(body, standins.tiktok.client_secret)
    first = post_tiktok(provider, body, signature)
    after_first = state(service)
    counted = marked_dead(provider, "tiktok", "provider_removed", "webhook")

    again = post_tiktok(provider, body, signature)

    assert first.get_json()["data"]["expired"] == 1
    assert (again.status_code, again.get_json()["data"]) == (200, {"received": True, "expired": 0})
    assert state(service) == after_first
    assert marked_dead(provider, "tiktok", "provider_removed", "webhook") == counted


def test_a_redelivered_deauthorize_changes_nothing_more(standins, service, sign_in, provider):
    connect_via_oauth(sign_in(1), "instagram")
    signed = signed_for_instagram(standins)
    post_meta(provider, DEAUTHORIZE, signed)
    after_first = state(service)

    again = post_meta(provider, DEAUTHORIZE, signed)

    assert (again.status_code, again.get_json()["data"]) == (200, {"received": True, "expired": 0})
    assert state(service) == after_first


def test_a_deauthorize_redelivered_after_the_creator_reconnected_leaves_the_new_grant(
    standins, service, sign_in, provider
):
    creator = sign_in(1)
    connect_via_oauth(creator, "instagram")
    granted_an_hour_ago(service, "instagram")
    signed = signed_for_instagram(standins, issued_at=time.time() - 60)
    post_meta(provider, DEAUTHORIZE, signed)
    assert status_of(creator, "instagram")["status"] == "expired"
    connect_via_oauth(creator, "instagram")

    again = post_meta(provider, DEAUTHORIZE, signed)

    assert again.get_json()["data"] == {"received": True, "expired": 0}
    assert status_of(creator, "instagram")["status"] == "connected"


def test_a_redelivered_deletion_request_gets_the_same_confirmation_code(
    standins, service, sign_in, provider
):
    connect_via_oauth(sign_in(1), "instagram")
    signed = signed_for_instagram(standins)
    first = post_meta(provider, DELETION, signed)
    after_first = state(service)

    again = post_meta(provider, DELETION, signed)

    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert state(service) == after_first
    assert len(every_row(service, "deletion_requests")) == 1


# No session, no CSRF; a limit per client IP ---------------------------------------------------


def test_webhooks_need_no_session_and_no_csrf_token(standins, service, sign_in, provider):
    connect_via_oauth(sign_in(1), "instagram")
    cross_site = {"Origin": "https://www.facebook.com", "Sec-Fetch-Site": "cross-site"}

    response = provider.post(
        DEAUTHORIZE, data={"signed_request": signed_for_instagram(standins)}, headers=cross_site
    )

    assert response.status_code == 200 and response.get_json()["data"]["expired"] == 1


def test_a_provider_this_deployment_does_not_offer_has_no_webhook(make_app):
    client = make_app().test_client()

    for response in [client.post(TIKTOK, data=b"{}"), post_meta(client, DELETION, "x.y")]:
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "NOT_FOUND"


def test_each_webhook_is_limited_per_client_ip(make_app, standins):
    app = make_app(**standins.settings(), WEBHOOK_RATE_LIMIT="2 per minute")
    client = app.test_client()
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    calls = {
        TIKTOK: lambda c: c.post(TIKTOK, data=b"{}"),
        DEAUTHORIZE: lambda c: post_meta(c, DEAUTHORIZE, None),
        DELETION: lambda c: post_meta(c, DELETION, None),
        f"{DELETION}/<code>": lambda c: c.get(f"{DELETION}/0123456789abcdef0123"),
    }

    for path, call in calls.items():
        answers = [call(client) for _ in range(3)]
        assert 429 not in [a.status_code for a in answers[:2]], path  # a budget of its own
        limited = answers[2]
        assert limited.status_code == 429, path
        assert limited.get_json() == {
            "success": False,
            "error": {"code": "RATE_LIMIT_EXCEEDED", "message": limited.json["error"]["message"]},
        }
        assert int(limited.headers["Retry-After"]) >= 1
        assert call(elsewhere).status_code != 429, path  # another IP has its own budget
