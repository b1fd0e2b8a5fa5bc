"""NextAuth session cookies: tokens made by NextAuth's own packages, and hostile cookie values."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ..support.app import jwt_cookie

URL = "/api/integrations/status"
VECTORS = json.loads((Path(__file__).parents[1] / "vectors/nextauth/vectors.json").read_text())
EXPECTED_STATUS = {"valid": 200, "expired": 401, "wrong_secret": 401, "invalid_user_id": 400}
CHUNK = 3900  # NextAuth splits a cookie value into chunks of about this size


def secrets_env(names: list[str]) -> dict[str, str]:
    values = [VECTORS["secrets"][name] for name in names]
    env = {"NEXTAUTH_SECRET": values[0]}
    if len(values) > 1:
        env["AUTH_SECRET_1"] = values[1]
    return env


def set_session_cookie(client, name: str, value: str) -> None:
    if len(value) <= CHUNK:
        client.set_cookie(name, value)
        return
    for index, start in enumerate(range(0, len(value), CHUNK)):
        client.set_cookie(f"{name}.{index}", value[start : start + CHUNK])


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_tokens_made_by_nextauth_packages(make_app, add_user, vector):
    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt", **secrets_env(vector["secrets"]))
    sub = vector["claims"]["sub"]
    if sub.isdigit() and int(sub) > 0:
        add_user(
            int(sub), [{"provider": "tiktok", "account_id": f"acct-{sub}", "account_name": "@t"}]
        )
    client = app.test_client()
    set_session_cookie(client, vector["cookieName"], vector["value"])

    response = client.get(URL)

    assert response.status_code == EXPECTED_STATUS[vector["expect"]]
    if vector["expect"] == "valid":
        items = response.get_json()["data"]["integrations"]
        assert [i["accountId"] for i in items] == [f"acct-{sub}"]


def test_large_token_is_only_accepted_when_chunks_are_complete(make_app, add_user):
    vector = next(v for v in VECTORS["vectors"] if v["name"] == "v5-large")
    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt", **secrets_env(["primary"]))
    add_user(42)
    client = app.test_client()
    set_session_cookie(client, vector["cookieName"], vector["value"])
    assert client.get(URL).status_code == 200

    client.delete_cookie(f"{vector['cookieName']}.1")

    assert client.get(URL).status_code == 401


def test_v4_token_in_a_v5_cookie_is_rejected(make_app, add_user):
    v4 = next(v for v in VECTORS["vectors"] if v["name"] == "v4-valid")
    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt", **secrets_env(["primary"]))
    add_user(42)
    client = app.test_client()
    client.set_cookie("authjs.session-token", v4["value"])

    assert client.get(URL).status_code == 401


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_header(token: str, header: dict) -> str:
    parts = token.split(".")
    parts[0] = _b64(json.dumps(header).encode())
    return ".".join(parts)


def _tampered_tokens() -> dict[str, str]:
    good = jwt_cookie("1")
    parts = good.split(".")
    flipped = parts[3][:-2] + ("A" if parts[3][-2] != "A" else "B") + parts[3][-1]
    return {
        "flipped-ciphertext": ".".join([*parts[:3], flipped, parts[4]]),
        "alg-none": _with_header(good, {"alg": "none", "enc": "A256GCM"}),
        "alg-rsa": _with_header(good, {"alg": "RSA-OAEP", "enc": "A256GCM"}),
        "enc-a128": _with_header(good, {"alg": "dir", "enc": "A128GCM"}),
        "zip": _with_header(good, {"alg": "dir", "enc": "A256GCM", "zip": "DEF"}),
        "encrypted-key-present": ".".join([parts[0], "AAAA", *parts[2:]]),
        "four-parts": ".".join(parts[:4]),
        "header-not-json": ".".join([_b64(b"{nope"), *parts[1:]]),
        "header-array": ".".join([_b64(b"[1,2]"), *parts[1:]]),
        "bad-base64": "!!!." + ".".join(parts[1:]),
        "short-iv": ".".join([parts[0], "", "AAAA", parts[3], parts[4]]),
        "unsigned-jwt": _b64(b'{"alg":"none"}') + "." + _b64(b'{"sub":"1"}') + ".",
    }


HOSTILE = {
    "empty": "",
    "spaces": "   ",
    "sql": "' OR 1=1 --",
    "html": "<script>alert(1)</script>",
    "unicode": "\u00e9\u4e2d\U0001f600",
    "nul": "abc\x00def",
    "huge": "A" * 20000,
    "dots": "....",
    "uuid-unknown": "2b1c1d8e-8f1a-4c3e-9a5b-1234567890ab",
}


@pytest.mark.parametrize("strategy", ["jwt", "database"])
@pytest.mark.parametrize(
    "value", [*HOSTILE.values(), *_tampered_tokens().values()], ids=[*HOSTILE, *_tampered_tokens()]
)
def test_hostile_cookie_values_get_401_never_500(make_app, add_user, strategy, value):
    app = make_app(NEXTAUTH_SESSION_STRATEGY=strategy)
    add_user(1)
    client = app.test_client()

    response = client.get(URL, headers={"Cookie": f"next-auth.session-token={value}"})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_raw_malformed_cookie_header_gets_401(client):
    response = client.get(URL, headers={"Cookie": 'next-auth.session-token="unterminated; ;;=;'})

    assert response.status_code == 401


def test_expired_jwt_within_clock_tolerance_is_accepted(make_app, add_user):
    import time

    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", jwt_cookie("1", exp=int(time.time()) - 5))
    assert client.get(URL).status_code == 200

    client.set_cookie("next-auth.session-token", jwt_cookie("1", exp=int(time.time()) - 60))
    assert client.get(URL).status_code == 401


@pytest.mark.parametrize("sub", ["0", "-1", "abc", "1.5", "01", "99999999999", 12, None, ""])
def test_jwt_with_non_positive_integer_user_id_gets_400(make_app, sub):
    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt")
    client = app.test_client()
    client.set_cookie("next-auth.session-token", jwt_cookie(sub))

    response = client.get(URL)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_USER_ID"


def test_jwt_without_exp_is_rejected(make_app, add_user):
    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", jwt_cookie("1", exp=None))

    assert client.get(URL).status_code == 401


@pytest.mark.parametrize("strategy", ["database", "jwt"])
@pytest.mark.parametrize(
    ("cookie", "answer"),
    [
        ("__Secure-next-auth.session-token", 200),
        ("__Secure-authjs.session-token", 200),
        ("next-auth.session-token", 401),
        ("authjs.session-token", 401),
    ],
)
def test_an_https_origin_believes_only_the_secure_cookie_names(
    make_app, add_user, db_session_cookie, strategy, cookie, answer
):
    # NextAuth sets only the __Secure- names on https; a plain one there was planted (a sibling
    # host or a network attacker can set it, not read it), and would sign the victim in as
    # whoever planted it.
    app = make_app(
        NEXTAUTH_SESSION_STRATEGY=strategy, PUBLIC_BASE_URL="https://platform.example.com"
    )
    add_user(1)
    token = db_session_cookie(1) if strategy == "database" else jwt_cookie("1", cookie)
    client = app.test_client()
    set_session_cookie(client, cookie, token)

    assert client.get(URL).status_code == answer
    assert client.get("/integrations").status_code == (200 if answer == 200 else 302)
