"""Outbound calls to providers: what is retried, what is never sent twice, how long it waits."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from tests.standins import authorize_redirect
from webapp.extensions import db
from webapp.models import Integration
from webapp.providers import REGISTRY

from ..support.app import connect_via_oauth
from ..support.grants import a_day_old

TIKTOK_TOKEN = "/v2/oauth/token/"
REDDIT_TOKEN = "/api/v1/access_token"
INSTAGRAM_REFRESH = "/refresh_access_token"


def refresh(client, provider: str, account_id: str):
    return client.post(f"/api/integrations/refresh/{provider}/{account_id}")


def stored(app, provider: str) -> list[Integration]:
    with app.app_context():
        query = select(Integration).where(Integration.provider == provider)
        return list(db.session.execute(query).scalars())


def provider_lines(logs: list[dict]) -> list[dict]:
    return [line for line in logs if line["logger"] == "webapp.providers"]


def test_code_exchange_is_not_resent_after_a_read_timeout(
    signed_in_client, standins, provider_app, provider_waits
):
    started = signed_in_client.post("/api/integrations/connect/tiktok").get_json()["data"]
    back = urlsplit(authorize_redirect(started["authorizationUrl"]))
    standins.tiktok.hang_next(TIKTOK_TOKEN, 5, times=3)

    response = signed_in_client.get(f"{back.path}?{back.query}")

    assert (
        response.headers["Location"] == "/integrations?error=provider_unavailable&provider=tiktok"
    )
    assert [r.fault for r in standins.tiktok.requests_to(TIKTOK_TOKEN)] == ["hang 5s"]
    assert provider_waits == []
    assert stored(provider_app, "tiktok") == []


def test_a_get_is_resent_after_a_read_timeout(
    signed_in_client, standins, provider_app, provider_waits
):
    connect_via_oauth(signed_in_client, "instagram")
    a_day_old(provider_app, standins)
    standins.instagram.hang_next(INSTAGRAM_REFRESH, 5)

    response = refresh(signed_in_client, "instagram", standins.instagram.account_id)

    assert response.status_code == 200
    faults = [r.fault for r in standins.instagram.requests_to(INSTAGRAM_REFRESH)]
    assert faults == ["hang 5s", None]
    assert provider_waits == [0.25]


def test_a_refused_connection_is_retried_before_giving_up(
    signed_in_client, standins, provider_waits, logs
):
    connect_via_oauth(signed_in_client, "reddit")
    standins.reddit.stop()  # nothing listens on its port now: every connect is refused

    response = refresh(signed_in_client, "reddit", standins.reddit.account_id)

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert provider_waits == [0.25, 0.5]
    *retries, gave_up = provider_lines(logs)
    assert [(r["level"], r["outcome"], r["attempt"]) for r in retries] == [
        ("info", "ConnectionError", 1),
        ("info", "ConnectionError", 2),
    ]
    assert (gave_up["level"], gave_up["attempts"], gave_up["reason"]) == (
        "warning",
        3,
        "retries used up",
    )


def test_a_long_retry_after_is_waited_5s_at_most_and_passed_on(
    signed_in_client, standins, provider_waits
):
    connect_via_oauth(signed_in_client, "tiktok")
    standins.tiktok.fail_next(TIKTOK_TOKEN, 503, headers={"Retry-After": "120"}, times=3)

    response = refresh(signed_in_client, "tiktok", standins.tiktok.account_id)

    assert response.status_code == 502
    assert response.headers["Retry-After"] == "120"
    assert provider_waits == [5.0, 5.0]
    assert len(standins.tiktok.requests_to(TIKTOK_TOKEN)) == 1 + 3  # the connect's, then 3


def test_retry_logs_name_the_path_never_the_query_or_a_token(
    signed_in_client, standins, provider_app, logs
):
    connect_via_oauth(signed_in_client, "instagram")
    a_day_old(provider_app, standins)
    [row] = stored(provider_app, "instagram")
    standins.instagram.fail_next(INSTAGRAM_REFRESH, 503, times=3)

    refresh(signed_in_client, "instagram", standins.instagram.account_id)

    lines = provider_lines(logs)
    assert [line["level"] for line in lines] == ["info", "info", "warning"]
    version = REGISTRY["instagram"].api_version
    assert {urlsplit(line["url"]).path for line in lines} == {f"/{version}{INSTAGRAM_REFRESH}"}
    for line in lines:
        assert "?" not in line["url"]
        assert row.access_token not in line["_raw"]
        assert standins.instagram.client_secret not in line["_raw"]
