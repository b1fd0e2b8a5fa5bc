"""A creator's integrations are capped (MAX_INTEGRATIONS_PER_USER): past it, connecting a new
account is a 409 on the API and a message on the page; reconnecting one always goes through."""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.standins import authorize_redirect
from webapp import create_app
from webapp.extensions import db
from webapp.models import Integration, OAuthState

from ..ops.test_config import GOOD
from ..support.app import TEST_DATABASE_URL, connect_via_oauth

COOKIE = "next-auth.session-token"
CONNECT = "/api/integrations/connect/onlyfans"
HX = {"HX-Request": "true"}
CAP = 3


def fans(account_id: str, api_key: str = "of_live_0123456789abcdef") -> dict[str, str]:
    return {"accountId": account_id, "accountName": f"Fans {account_id}", "apiKey": api_key}


def count(app, model=Integration) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def csrf(client) -> str:
    page = client.get("/integrations").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


@pytest.fixture
def capped_app(make_app, standins):
    return make_app(MAX_INTEGRATIONS_PER_USER=str(CAP), **standins.settings())


@pytest.fixture
def client_with_room_for_one(capped_app, add_user, db_session_cookie):
    """User 1, signed in, with room for one more integration."""
    add_user(1)
    client = capped_app.test_client()
    client.set_cookie(COOKIE, db_session_cookie(1))
    for account_id in ("of1", "of2"):
        assert client.post(CONNECT, json=fans(account_id)).status_code == 201
    return client


def test_connecting_past_the_cap_is_409_and_adds_nothing(capped_app, client_with_room_for_one):
    assert client_with_room_for_one.post(CONNECT, json=fans("of3")).status_code == 201

    refused = client_with_room_for_one.post(CONNECT, json=fans("of4"))

    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "INTEGRATION_LIMIT_REACHED"
    assert "At most 3 accounts" in error["message"]
    assert refused.headers["X-RateLimit-Remaining"]
    assert count(capped_app) == CAP


def test_reconnecting_at_the_cap_goes_through_and_disconnecting_makes_room(
    capped_app, client_with_room_for_one
):
    client_with_room_for_one.post(CONNECT, json=fans("of3"))

    updated = client_with_room_for_one.post(
        CONNECT, json=fans("of1", api_key="of_live_new_key_0123456789")
    )
    disconnected = client_with_room_for_one.delete("/api/integrations/disconnect/onlyfans/of2")
    added = client_with_room_for_one.post(CONNECT, json=fans("of4"))

    assert (updated.status_code, disconnected.status_code, added.status_code) == (200, 200, 201)
    with capped_app.app_context():
        keys = db.session.execute(select(Integration.account_id, Integration.api_key)).all()
    assert sorted(keys) == [
        ("of1", "of_live_new_key_0123456789"),
        ("of3", "of_live_0123456789abcdef"),
        ("of4", "of_live_0123456789abcdef"),
    ]


def test_oauth_connect_at_the_cap_is_refused_before_the_provider(
    capped_app, client_with_room_for_one, standins
):
    client_with_room_for_one.post(CONNECT, json=fans("of3"))

    refused = client_with_room_for_one.post("/api/integrations/connect/reddit")

    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "INTEGRATION_LIMIT_REACHED"
    assert count(capped_app, OAuthState) == 0


def test_oauth_callback_refuses_once_the_cap_filled_meanwhile(capped_app, client_with_room_for_one):
    started = client_with_room_for_one.post("/api/integrations/connect/reddit")
    back = urlsplit(authorize_redirect(started.get_json()["data"]["authorizationUrl"]))
    client_with_room_for_one.post(CONNECT, json=fans("of3"))  # another tab takes the last place

    landed = client_with_room_for_one.get(f"{back.path}?{back.query}")

    assert landed.status_code == 303
    assert landed.headers["Location"] == "/integrations?error=integration_limit&provider=reddit"
    page = client_with_room_for_one.get(landed.headers["Location"]).get_data(as_text=True)
    assert "You have connected as many accounts as you can." in page
    assert count(capped_app) == CAP


def test_a_grant_refused_at_the_cap_is_revoked_at_the_provider(
    capped_app, client_with_room_for_one, standins
):
    started = client_with_room_for_one.post("/api/integrations/connect/reddit")
    back = urlsplit(authorize_redirect(started.get_json()["data"]["authorizationUrl"]))
    client_with_room_for_one.post(CONNECT, json=fans("of3"))

    client_with_room_for_one.get(f"{back.path}?{back.query}")

    revoked = standins.reddit.requests_to("/api/v1/revoke_token")
    assert len(revoked) == 1
    issued = [t for t in standins.reddit.ledger.tokens.values() if t.kind == "refresh"]
    assert [t.revoked for t in issued] == [True]


def test_an_unconfigured_provider_is_400_even_at_the_cap(
    make_app, standins, client_with_room_for_one
):
    client_with_room_for_one.post(CONNECT, json=fans("of3"))
    without_instagram = {
        k: v for k, v in standins.settings().items() if not k.startswith("INSTAGRAM_")
    }
    app = make_app(MAX_INTEGRATIONS_PER_USER=str(CAP), **without_instagram)
    client = app.test_client()
    client.set_cookie(COOKIE, client_with_room_for_one.get_cookie(COOKIE).value)

    refused = client.post("/api/integrations/connect/instagram")

    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "INVALID_PROVIDER"


def test_reconnecting_through_the_provider_at_the_cap_goes_through(
    capped_app, client_with_room_for_one, standins
):
    connect_via_oauth(client_with_room_for_one, "tiktok")
    standins.tiktok.revoke_all()  # the grant is dead: Reconnect goes through TikTok again
    account = standins.tiktok.account_id

    sent = client_with_room_for_one.post(
        f"/integrations/tiktok/{account}/reconnect",
        data={"csrf_token": csrf(client_with_room_for_one)},
    )
    back = urlsplit(authorize_redirect(sent.headers["Location"]))
    landed = client_with_room_for_one.get(f"{back.path}?{back.query}")

    assert sent.status_code == 303
    assert landed.headers["Location"] == "/integrations?connected=tiktok"
    assert count(capped_app) == CAP


def test_the_page_says_so_for_a_plain_form_and_for_htmx(capped_app, client_with_room_for_one):
    client_with_room_for_one.post(CONNECT, json=fans("of3"))
    form = {"csrf_token": csrf(client_with_room_for_one), **fans("of4")}

    plain = client_with_room_for_one.post("/integrations/connect/onlyfans", data=form)
    htmx = client_with_room_for_one.post("/integrations/connect/onlyfans", data=form, headers=HX)

    assert plain.status_code == 303
    assert plain.headers["Location"] == "/integrations?error=integration_limit&provider=onlyfans"
    shown = client_with_room_for_one.get(plain.headers["Location"]).get_data(as_text=True)
    assert "You have connected as many accounts as you can." in shown
    assert htmx.status_code == 409
    assert htmx.headers["HX-Retarget"] == "#messages"
    assert "Disconnect one to connect another." in htmx.get_data(as_text=True)
    assert count(capped_app) == CAP


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="row locks need PostgreSQL: set TEST_DATABASE_URL"
)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_connects_never_pass_the_cap(make_app, add_user, db_session_cookie):
    app = make_app(MAX_INTEGRATIONS_PER_USER="50")
    add_user(
        1,
        [{"provider": "onlyfans", "account_id": f"of{n}", "account_name": "F"} for n in range(45)],
    )
    token = db_session_cookie(1)
    start = threading.Barrier(10)
    answers: list[int] = []

    def connect(n: int) -> None:
        client = app.test_client()
        client.set_cookie(COOKIE, token)
        start.wait()
        answers.append(client.post(CONNECT, json=fans(f"new{n}")).status_code)

    threads = [threading.Thread(target=connect, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [201] * 5 + [409] * 5
    assert count(app) == 50


def test_the_cap_is_a_setting_validated_at_start():
    assert create_app(GOOD).config["MAX_INTEGRATIONS_PER_USER"] == 50
    assert (
        create_app(GOOD | {"MAX_INTEGRATIONS_PER_USER": "7"}).config["MAX_INTEGRATIONS_PER_USER"]
        == 7
    )
    for bad in ("0", "-1", "many"):
        with pytest.raises(SystemExit, match="MAX_INTEGRATIONS_PER_USER"):
            create_app(GOOD | {"MAX_INTEGRATIONS_PER_USER": bad})
