"""What names a session: a session whose user is gone is none, the page's CSRF token outlives
NextAuth's re-issued cookies, and a bad cookie under one name never hides a good one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from webapp.extensions import db
from webapp.models import Integration, OAuthState
from webapp.timeutil import utcnow

from ..support.app import jwt_cookie

URL = "/api/integrations/status"
V4 = "next-auth.session-token"
V4_SECURE = "__Secure-next-auth.session-token"
V5 = "authjs.session-token"
V5_SECURE = "__Secure-authjs.session-token"
ONLYFANS = {"accountId": "of1", "accountName": "Fans", "apiKey": "of_live_0123456789abcdef"}
GARBAGE = "garbage-from-a-sibling-subdomain"


def cookie_header(**cookies: str) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def csrf_token(client, cookie: dict[str, str]) -> str:
    page = client.get("/integrations", headers=cookie)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]


def integrations_of(app, user_id: int) -> int:
    with app.app_context():
        statement = select(func.count()).where(Integration.user_id == user_id)
        return db.session.execute(statement).scalar_one()


def delete_user(app, user_id: int) -> None:
    with app.app_context():
        db.session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
        db.session.commit()


# A session whose user no longer exists -------------------------------------------------------


def test_database_session_of_a_deleted_user_is_signed_out_everywhere(
    make_app, add_user, db_session_cookie, logs
):
    app = make_app()
    add_user(1, [{"provider": "reddit", "account_id": "r1", "account_name": "u/r1"}])
    cookie = {"Cookie": f"{V4}={db_session_cookie(1)}"}
    client = app.test_client(use_cookies=False)
    assert client.get(URL, headers=cookie).status_code == 200
    delete_user(app, 1)

    status = client.get(URL, headers=cookie)
    connect = client.post("/api/integrations/connect/onlyfans", json=ONLYFANS, headers=cookie)
    page = client.get("/integrations", headers=cookie)
    polled = client.get("/integrations", headers={**cookie, "HX-Request": "true"})

    assert (status.status_code, status.get_json()["error"]["code"]) == (401, "UNAUTHORIZED")
    assert (connect.status_code, connect.get_json()["error"]["code"]) == (401, "UNAUTHORIZED")
    assert page.status_code == 302
    assert "/api/auth/signin?callbackUrl=" in page.headers["Location"]
    assert polled.status_code == 401 and "Your session has ended" in polled.get_data(as_text=True)
    assert integrations_of(app, 1) == 0
    assert not [entry for entry in logs if entry["message"] == "unhandled error"]


def test_jwt_of_a_user_without_a_users_row_cannot_connect(provider_app, logs):
    client = provider_app.test_client(use_cookies=False)
    cookie = {"Cookie": f"{V4}={jwt_cookie('7')}"}

    onlyfans = client.post("/api/integrations/connect/onlyfans", json=ONLYFANS, headers=cookie)
    oauth = client.post("/api/integrations/connect/reddit", headers=cookie)

    for answer in (onlyfans, oauth):
        assert (answer.status_code, answer.get_json()["error"]["code"]) == (401, "UNAUTHORIZED")
    with provider_app.app_context():
        assert db.session.execute(select(func.count()).select_from(OAuthState)).scalar() == 0
    assert integrations_of(provider_app, 7) == 0
    assert not [entry for entry in logs if entry["message"] == "unhandled error"]


@pytest.fixture
def provider_app(make_app, standins):
    return make_app(NEXTAUTH_SESSION_STRATEGY="jwt", **standins.settings())


# The CSRF token across NextAuth's re-issued cookies ------------------------------------------


@pytest.fixture
def jwt_page(make_app, add_user):
    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt")
    for user_id in (1, 2):
        add_user(
            user_id,
            [
                {
                    "provider": "onlyfans",
                    "account_id": f"of{user_id}",
                    "account_name": "F",
                    "api_key": "k" * 20,
                }
            ],
        )
    return app


def test_page_token_still_works_after_nextauth_reissues_the_jwt_cookie(jwt_page):
    client = jwt_page.test_client(use_cookies=False)
    first = {"Cookie": f"{V4}={jwt_cookie('1')}"}
    reissued = {"Cookie": f"{V4}={jwt_cookie('1', iat=2, exp=4_000_000_000)}"}
    assert first != reissued

    token = csrf_token(client, first)
    response = client.post(
        "/integrations/onlyfans/of1/disconnect", data={"csrf_token": token}, headers=reissued
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/integrations?disconnected=onlyfans"
    assert integrations_of(jwt_page, 1) == 0


def test_page_token_is_refused_for_another_user_and_when_signed_out(jwt_page):
    client = jwt_page.test_client(use_cookies=False)
    token = csrf_token(client, {"Cookie": f"{V4}={jwt_cookie('1')}"})
    other_user = {"Cookie": f"{V4}={jwt_cookie('2')}"}

    as_other = client.post(
        "/integrations/onlyfans/of2/disconnect", data={"csrf_token": token}, headers=other_user
    )
    signed_out = client.post("/integrations/onlyfans/of1/disconnect", data={"csrf_token": token})
    over_htmx = client.delete(
        "/integrations/onlyfans/of2/disconnect",
        headers={**other_user, "HX-Request": "true", "X-CSRF-Token": token},
    )

    assert "error=forbidden" in as_other.headers["Location"]
    assert "error=forbidden" in signed_out.headers["Location"]
    assert over_htmx.status_code == 403
    assert (integrations_of(jwt_page, 1), integrations_of(jwt_page, 2)) == (1, 1)


def test_database_session_token_is_bound_to_that_session_row(app, add_user, db_session_cookie):
    add_user(
        1, [{"provider": "onlyfans", "account_id": "of1", "account_name": "F", "api_key": "k" * 20}]
    )
    phone, laptop = db_session_cookie(1), db_session_cookie(1)
    client = app.test_client(use_cookies=False)
    token = csrf_token(client, {"Cookie": f"{V4}={phone}"})
    with app.app_context():  # NextAuth extends a database session by updating its row
        db.session.execute(
            text('UPDATE sessions SET expires = :later WHERE "sessionToken" = :token'),
            {"later": utcnow() + timedelta(days=60), "token": phone},
        )
        db.session.commit()

    other_session = client.post(
        "/integrations/onlyfans/of1/disconnect",
        data={"csrf_token": token},
        headers={"Cookie": f"{V4}={laptop}"},
    )
    same_session = client.post(
        "/integrations/onlyfans/of1/disconnect",
        data={"csrf_token": token},
        headers={"Cookie": f"{V4}={phone}"},
    )

    assert "error=forbidden" in other_session.headers["Location"]
    assert same_session.headers["Location"] == "/integrations?disconnected=onlyfans"


# A bad cookie under one name beside a good one under another ---------------------------------


def valid_cookie(strategy: str, name: str, db_session_cookie) -> str:
    return jwt_cookie("1", cookie=name) if strategy == "jwt" else db_session_cookie(1)


@pytest.mark.parametrize("strategy", ["jwt", "database"])
@pytest.mark.parametrize(
    ("garbage_name", "valid_name"),
    [(V4_SECURE, V4), (V5_SECURE, V4), (V4, V5), (V5_SECURE, V5), (V5, V4_SECURE)],
)
def test_a_garbage_cookie_beside_a_valid_one_is_passed_over(
    make_app, add_user, db_session_cookie, strategy, garbage_name, valid_name
):
    app = make_app(NEXTAUTH_SESSION_STRATEGY=strategy)
    add_user(1, [{"provider": "reddit", "account_id": "r1", "account_name": "u/r1"}])
    valid = valid_cookie(strategy, valid_name, db_session_cookie)
    client = app.test_client(use_cookies=False)

    both = client.get(URL, headers=cookie_header(**{garbage_name: GARBAGE, valid_name: valid}))
    alone = client.get(URL, headers=cookie_header(**{garbage_name: GARBAGE}))

    assert both.status_code == 200
    assert [i["accountId"] for i in both.get_json()["data"]["integrations"]] == ["r1"]
    assert (alone.status_code, alone.get_json()["error"]["code"]) == (401, "UNAUTHORIZED")


@pytest.mark.parametrize("strategy", ["jwt", "database"])
def test_garbage_chunks_beside_a_valid_cookie_are_passed_over(
    make_app, add_user, db_session_cookie, strategy
):
    app = make_app(NEXTAUTH_SESSION_STRATEGY=strategy)
    add_user(1)
    valid = valid_cookie(strategy, V4, db_session_cookie)
    chunks = {f"{V4_SECURE}.{n}": GARBAGE for n in range(3)}

    response = app.test_client(use_cookies=False).get(
        URL, headers=cookie_header(**chunks, **{V4: valid})
    )

    assert response.status_code == 200
