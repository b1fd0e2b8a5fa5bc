"""Instagram as Meta documents it: the sign-in names `force_authentication`, every Graph call
a pinned version, a token is renewed only once it is a day old, and only a call that sent the
secret can be told our secret is wrong."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.standins import authorize_redirect

from ..support.app import connect_via_oauth
from ..support.grants import (
    CLIENT_REJECTED,
    a_day_old,
    metric,
    moment,
    refresh,
    run_refresh_due,
    status_of,
    stored,
)

REFRESH = "/refresh_access_token"
GRAPH_PATHS = ("/access_token", "/refresh_access_token", "/me")


def signed_in_to(app, add_user, db_session_cookie):
    """A client of `app`, signed in as a new creator 1."""
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    return client


def graph_calls(standins) -> list:
    """Every call the service made to graph.instagram.com (not api. or www.instagram.com)."""
    return [
        r
        for r in standins.instagram.requests
        if standins.instagram.route_path(r.path) in GRAPH_PATHS
    ]


def test_the_sign_in_forces_authentication_beside_no_facebook_login(signed_in_client):
    started = signed_in_client.post("/api/integrations/connect/instagram").get_json()["data"]

    query = dict(parse_qsl(urlsplit(started["authorizationUrl"]).query))

    assert (query["enable_fb_login"], query["force_authentication"]) == ("0", "1")


def test_every_graph_call_names_the_pinned_version(signed_in_client, standins, provider_app):
    connect_via_oauth(signed_in_client, "instagram")
    a_day_old(provider_app, standins)
    assert refresh(signed_in_client, "instagram", standins.instagram.account_id).status_code == 200

    calls = graph_calls(standins)

    assert {standins.instagram.route_path(c.path) for c in calls} == set(GRAPH_PATHS)
    assert all(c.path.startswith("/v26.0/") for c in calls), [c.path for c in calls]


def test_instagram_graph_version_pins_another_version(
    make_app, standins, add_user, db_session_cookie
):
    app = make_app(**standins.settings(), INSTAGRAM_GRAPH_VERSION="v25.0")
    client = signed_in_to(app, add_user, db_session_cookie)

    connect_via_oauth(client, "instagram")

    assert {c.path.split("/")[1] for c in graph_calls(standins)} == {"v25.0"}


# The 24-hour rule ------------------------------------------------------------------------------


def test_a_refresh_within_a_day_of_the_token_leaves_it_and_says_so(
    signed_in_client, standins, provider_app, logs
):
    connect_via_oauth(signed_in_client, "instagram")
    before = stored(provider_app, "instagram")
    standins.instagram.clear_requests()

    response = refresh(signed_in_client, "instagram", standins.instagram.account_id)

    assert response.status_code == 200
    assert response.get_json()["data"]["integration"] == status_of(signed_in_client, "instagram")
    assert standins.instagram.requests_to(REFRESH) == []  # Instagram would refuse it
    assert stored(provider_app, "instagram") == before
    [line] = [line for line in logs if line["message"] == "token is fresh: not renewed"]
    assert (line["provider"], line["via"]) == ("instagram", "refresh")


def test_a_day_old_token_is_renewed_and_its_age_starts_again(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "instagram")
    obtained = moment(stored(provider_app, "instagram")["token_obtained_at"])
    assert obtained is not None  # the connect's token
    a_day_old(provider_app, standins)

    assert refresh(signed_in_client, "instagram", standins.instagram.account_id).status_code == 200
    renewed = moment(stored(provider_app, "instagram")["token_obtained_at"])
    again = refresh(signed_in_client, "instagram", standins.instagram.account_id)

    assert [c.status for c in standins.instagram.requests_to(REFRESH)] == [200]
    assert renewed > obtained
    assert again.status_code == 200  # renewed a moment ago: left alone again


def test_refresh_due_leaves_a_token_under_a_day_old_for_later(
    signed_in_client, standins, provider_app
):
    connect_via_oauth(signed_in_client, "instagram")
    assert run_refresh_due(provider_app, "--within", "90d") == (
        "refreshed=0 failed=0 skipped=0 expired=0"
    )
    assert standins.instagram.requests_to(REFRESH) == []
    a_day_old(provider_app, standins)
    assert run_refresh_due(provider_app, "--within", "90d") == (
        "refreshed=1 failed=0 skipped=0 expired=0"
    )


# Our client -------------------------------------------------------------------------------------


def test_a_wrong_secret_at_connect_is_the_operators_error(
    make_app, standins, add_user, db_session_cookie, logs
):
    app = make_app(**{**standins.settings(), "INSTAGRAM_CLIENT_SECRET": "not-the-app-secret"})
    client = signed_in_to(app, add_user, db_session_cookie)
    rejected = metric(client, CLIENT_REJECTED, provider="instagram")
    started = client.post("/api/integrations/connect/instagram").get_json()["data"]
    back = urlsplit(authorize_redirect(started["authorizationUrl"]))

    landed = client.get(f"{back.path}?{back.query}")

    # api.instagram.com answered "Error validating client secret." to a call that sent it.
    assert landed.headers["Location"] == "/integrations?error=unavailable&provider=instagram"
    assert metric(client, CLIENT_REJECTED, provider="instagram") == rejected + 1
    [line] = [line for line in logs if line["level"] == "error"]
    assert line["settings"] == "INSTAGRAM_CLIENT_ID, INSTAGRAM_CLIENT_SECRET"
    assert "not-the-app-secret" not in line["_raw"]


@pytest.mark.parametrize("code", [1, 2])
def test_a_temporary_graph_code_on_refresh_is_unavailable(
    signed_in_client, standins, provider_app, code
):
    connect_via_oauth(signed_in_client, "instagram")
    a_day_old(provider_app, standins)
    rejected = metric(signed_in_client, CLIENT_REJECTED, provider="instagram")
    # Handling Errors guide: 1 "API Unknown" and 2 "API Service", possibly temporary.
    answer = {
        "error": {"message": "An unknown error occurred", "type": "OAuthException", "code": code}
    }
    standins.instagram.fail_next(REFRESH, 400, answer)

    response = refresh(signed_in_client, "instagram", standins.instagram.account_id)

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert metric(signed_in_client, CLIENT_REJECTED, provider="instagram") == rejected
    assert status_of(signed_in_client, "instagram")["status"] == "connected"
