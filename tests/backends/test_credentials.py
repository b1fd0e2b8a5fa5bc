"""GET /api/platform/integrations/<id>/credentials against the provider stand-ins: fresh on
read, one refresh at a time, forced refreshes at most every 30 s, and the truth about dead and
failing grants."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import Integration
from webapp.timeutil import utcnow

from ..support.app import TEST_DATABASE_URL, connect_via_oauth
from ..support.backends import credentials, make_key
from ..support.events import bodies, events_settings
from ..support.grants import every_row, metric, status_of

READS = "integrations_credentials_reads_total"
EXPECTED_KEYS = [
    "integrationId",
    "userId",
    "provider",
    "accountId",
    "tokenType",
    "accessToken",
    "expiresAt",
    "scopes",
]


@pytest.fixture
def extra_settings(receiver) -> dict[str, str]:
    return events_settings(receiver.url)


@pytest.fixture
def key(provider_app) -> str:
    return make_key(provider_app, "scheduler", "credentials:read")


def connected(client, app, provider: str) -> Integration:
    """Connect through the real OAuth flow; the stored row (tokens decrypted)."""
    connect_via_oauth(client, provider)
    with app.app_context():
        row = db.session.execute(
            select(Integration).where(Integration.provider == provider)
        ).scalar_one()
        db.session.expunge(row)
        db.session.rollback()
    return row


def expire_in(app, integration_id: int, delta: timedelta) -> None:
    with app.app_context():
        db.session.execute(
            update(Integration)
            .where(Integration.id == integration_id)
            .values(expires_at=utcnow() + delta)
        )
        db.session.commit()


def stored_token(app, integration_id: int) -> str | None:
    with app.app_context():
        token = db.session.get(Integration, integration_id).access_token
        db.session.rollback()
    return token


def token_posts(standins, provider: str) -> int:
    path = {"tiktok": "/v2/oauth/token/", "reddit": "/api/v1/access_token"}[provider]
    return len(standins[provider].requests_to(path))


@pytest.mark.parametrize("provider", ["tiktok", "reddit", "instagram"])
def test_a_fresh_token_is_read_without_calling_the_provider(
    signed_in_client, provider_app, standins, key, provider
):
    row = connected(signed_in_client, provider_app, provider)
    standins[provider].clear_requests()

    response = credentials(provider_app.test_client(), key, row.id)

    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert list(data) == EXPECTED_KEYS
    assert data["accessToken"] == row.access_token
    assert (data["tokenType"], data["provider"], data["userId"]) == ("bearer", provider, 1)
    assert isinstance(data["scopes"], list)
    assert all(scope and " " not in scope and "," not in scope for scope in data["scopes"])
    assert standins[provider].requests == []
    assert "refresh" not in str(data).lower()  # never a refresh token
    assert response.headers["Cache-Control"] == "private, no-cache, no-store, must-revalidate"


@pytest.mark.parametrize("provider", ["tiktok", "reddit"])
def test_a_token_within_five_minutes_of_expiry_is_renewed_before_it_is_returned(
    signed_in_client, provider_app, standins, key, provider
):
    row = connected(signed_in_client, provider_app, provider)
    expire_in(provider_app, row.id, timedelta(minutes=4))
    before = token_posts(standins, provider)

    data = credentials(provider_app.test_client(), key, row.id).get_json()["data"]

    assert token_posts(standins, provider) == before + 1
    assert data["accessToken"] != row.access_token
    assert data["accessToken"] == stored_token(provider_app, row.id)
    assert standins[provider].token_state(data["accessToken"]) == "valid"


# One refresh at a time is PostgreSQL's row lock; SQLite (make run's default) has none.
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL: set TEST_DATABASE_URL")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_reads_of_an_expired_grant_make_one_refresh(
    signed_in_client, provider_app, standins, key
):
    row = connected(signed_in_client, provider_app, "tiktok")
    expire_in(provider_app, row.id, -timedelta(minutes=1))
    before = token_posts(standins, "tiktok")
    standins.tiktok.hang_next("/v2/oauth/token/", 0.5)  # the first refresh takes a while
    start = threading.Barrier(8)
    answers: list = []

    def read() -> None:
        client = provider_app.test_client()
        start.wait()
        answers.append(credentials(client, key, row.id))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [a.status_code for a in answers] == [200] * 8
    tokens = {a.get_json()["data"]["accessToken"] for a in answers}
    assert len(tokens) == 1 and token_posts(standins, "tiktok") == before + 1
    assert standins.tiktok.token_state(tokens.pop()) == "valid"


def test_a_forced_refresh_renews_now_and_is_repeated_for_thirty_seconds(
    signed_in_client, provider_app, standins, key
):
    row = connected(signed_in_client, provider_app, "tiktok")
    before = token_posts(standins, "tiktok")
    client = provider_app.test_client()

    first = credentials(client, key, row.id, forceRefresh="true").get_json()["data"]
    second = credentials(client, key, row.id, forceRefresh="true").get_json()["data"]

    assert token_posts(standins, "tiktok") == before + 1
    assert first["accessToken"] != row.access_token
    assert second["accessToken"] == first["accessToken"]
    with provider_app.app_context():
        db.session.execute(update(Integration).values(forced_at=utcnow() - timedelta(seconds=31)))
        db.session.commit()
    third = credentials(client, key, row.id, forceRefresh="true").get_json()["data"]
    assert token_posts(standins, "tiktok") == before + 2
    assert third["accessToken"] != first["accessToken"]


def test_a_revoked_grant_is_409_expired_at_once_with_one_event(
    signed_in_client, provider_app, standins, key
):
    row = connected(signed_in_client, provider_app, "tiktok")
    standins.tiktok.revoke_all()
    client = provider_app.test_client()

    refused = credentials(client, key, row.id, forceRefresh="true")

    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "REAUTH_REQUIRED"
    assert error["reason"] == "access_revoked"
    assert error["reconnectUrl"].endswith(f"/integrations#integration-{row.id}")
    assert status_of(signed_in_client, "tiktok")["status"] == "expired"
    expired = [b for b in bodies(provider_app) if b["type"] == "integration.expired"]
    assert len(expired) == 1 and expired[0]["data"]["reason"] == "access_revoked"
    # Known dead: the next read says so without asking the provider.
    standins.tiktok.clear_requests()
    again = credentials(client, key, row.id)
    assert again.status_code == 409 and standins.tiktok.requests == []


def test_a_failing_provider_is_502_with_retry_after_and_nothing_marked(
    signed_in_client, provider_app, standins, key
):
    row = connected(signed_in_client, provider_app, "tiktok")
    expire_in(provider_app, row.id, -timedelta(minutes=1))
    before = every_row(provider_app, "integrations")
    standins.tiktok.fail_next("/v2/oauth/token/", 503, times=3)

    response = credentials(provider_app.test_client(), key, row.id)

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1
    assert every_row(provider_app, "integrations") == before
    assert status_of(signed_in_client, "tiktok")["status"] == "expired"  # by time, as before


def test_a_token_that_still_works_is_returned_when_its_renewal_fails(
    signed_in_client, provider_app, standins, key
):
    row = connected(signed_in_client, provider_app, "tiktok")
    expire_in(provider_app, row.id, timedelta(minutes=3))
    standins.tiktok.fail_next("/v2/oauth/token/", 503, times=3)

    response = credentials(provider_app.test_client(), key, row.id)

    assert response.status_code == 200
    assert response.get_json()["data"]["accessToken"] == row.access_token


def test_an_expired_instagram_token_is_409_without_asking_instagram(
    signed_in_client, provider_app, standins, key
):
    row = connected(signed_in_client, provider_app, "instagram")
    expire_in(provider_app, row.id, -timedelta(hours=1))
    standins.instagram.clear_requests()

    response = credentials(provider_app.test_client(), key, row.id)

    assert response.status_code == 409
    assert response.get_json()["error"]["reason"] == "expired"
    assert standins.instagram.requests == []


def test_forcing_an_instagram_token_it_cannot_renew_asks_instagram_whether_it_works(
    signed_in_client, provider_app, standins, key
):
    row = connected(signed_in_client, provider_app, "instagram")
    expire_in(provider_app, row.id, -timedelta(hours=1))
    standins.instagram.expire_access_tokens()
    standins.instagram.clear_requests()

    response = credentials(provider_app.test_client(), key, row.id, forceRefresh="true")

    assert response.status_code == 409
    assert response.get_json()["error"]["reason"] == "expired"
    assert [r.path.rsplit("/", 1)[-1] for r in standins.instagram.requests] == ["me"]


def test_forcing_an_instagram_token_of_the_day_checks_it_and_renews_nothing(
    signed_in_client, provider_app, standins, key
):
    row = connected(signed_in_client, provider_app, "instagram")  # Instagram renews at a day old
    standins.instagram.clear_requests()

    response = credentials(provider_app.test_client(), key, row.id, forceRefresh="true")

    assert response.status_code == 200
    assert response.get_json()["data"]["accessToken"] == row.access_token
    assert [r.path.rsplit("/", 1)[-1] for r in standins.instagram.requests] == ["me"]


def test_an_onlyfans_key_is_read_as_it_is(provider_app, signed_in_client, key):
    signed_in_client.post(
        "/api/integrations/connect/onlyfans",
        json={"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_0123456789abcdef"},
    )

    data = credentials(provider_app.test_client(), key, 1, forceRefresh="true").get_json()["data"]

    assert (data["tokenType"], data["accessToken"], data["expiresAt"]) == (
        "api_key",
        "ofapi_0123456789abcdef",
        None,
    )


@pytest.mark.parametrize("integration_id", ["999", "0", "abc", "99999999999"])
def test_an_unknown_integration_is_404(provider_app, key, integration_id):
    response = provider_app.test_client().get(
        f"/api/platform/integrations/{integration_id}/credentials",
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


def test_force_refresh_takes_true_or_false(provider_app, key):
    response = credentials(provider_app.test_client(), key, 1, forceRefresh="yes")

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "forceRefresh"


def test_every_read_is_logged_and_counted_never_the_token(
    signed_in_client, provider_app, standins, key, logs
):
    row = connected(signed_in_client, provider_app, "tiktok")
    expire_in(provider_app, row.id, timedelta(minutes=1))
    reads = provider_app.test_client()
    before = metric(reads, READS, key="scheduler", outcome="refreshed")

    data = credentials(reads, key, row.id).get_json()["data"]

    [line] = [
        entry
        for entry in logs
        if entry["message"] == "request" and entry["path"].endswith("/credentials")
    ]
    assert line["keyName"] == "scheduler" and line["provider"] == "tiktok"
    assert (line["outcome"], line["refreshed"], line["status"]) == ("refreshed", True, 200)
    assert "durationMs" in line
    assert not [entry for entry in logs if data["accessToken"] in entry["_raw"]]
    assert not [entry for entry in logs if row.access_token in entry["_raw"]]
    assert metric(reads, READS, key="scheduler", outcome="refreshed") == before + 1
