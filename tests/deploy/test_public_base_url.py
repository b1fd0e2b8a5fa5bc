"""In production the service's absolute URLs come from PUBLIC_BASE_URL, never from Host."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from webapp import create_app
from webapp.extensions import db
from webapp.models import OAuthState

from ..ops.test_config import GOOD
from ..support.app import PRODUCTION_REDDIT_AGENT

PUBLIC = "https://integrations.example.com"


def test_production_without_public_base_url_stops_naming_it():
    env = {k: v for k, v in GOOD.items() if k != "PUBLIC_BASE_URL"}

    with pytest.raises(SystemExit) as stopped:
        create_app(env)

    assert "PUBLIC_BASE_URL" in str(stopped.value)
    assert "\n" not in str(stopped.value)


@pytest.mark.parametrize("app_env", ["development", "test"])
def test_development_and_tests_still_use_the_request_host(app_env):
    env = {k: v for k, v in GOOD.items() if k != "PUBLIC_BASE_URL"} | {"APP_ENV": app_env}

    app = create_app(env)

    assert app.config["PUBLIC_BASE_URL"] is None


@pytest.fixture
def production(make_app, standins, add_user, db_session_cookie):
    app = make_app(
        APP_ENV="production",
        PUBLIC_BASE_URL=PUBLIC,
        REDDIT_USER_AGENT=PRODUCTION_REDDIT_AGENT,
        **standins.settings(),
    )
    add_user(1)
    return app, db_session_cookie(1)


def test_a_foreign_host_builds_no_url_in_production(production):
    app, token = production
    client = app.test_client()
    client.set_cookie("__Secure-next-auth.session-token", token, domain="evil.example")

    started = client.post("/api/integrations/connect/reddit", base_url="http://evil.example")
    signed_out = app.test_client().get("/integrations", base_url="http://evil.example")

    url = started.get_json()["data"]["authorizationUrl"]
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == [
        f"{PUBLIC}/api/integrations/callback/reddit"
    ]
    with app.app_context():
        stored = db.session.execute(select(OAuthState.redirect_uri)).scalar_one()
    assert stored == f"{PUBLIC}/api/integrations/callback/reddit"
    location = signed_out.headers["Location"]
    assert parse_qs(urlsplit(location).query)["callbackUrl"] == [f"{PUBLIC}/integrations"]
    assert "evil.example" not in url + stored + location
