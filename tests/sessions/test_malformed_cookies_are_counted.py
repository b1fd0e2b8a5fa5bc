"""A malformed session cookie, whatever its shape, is a 401 counted against the signed-out
limit of the client's IP: nothing in a cookie can make a request escape the limiter."""

from __future__ import annotations

import base64
import itertools

import pytest

from ..support.app import jwt_cookie

URL = "/api/integrations/status"
V4_COOKIE = "next-auth.session-token"
V5_COOKIE = "authjs.session-token"
DEEP = b"[" * 5000 + b"]" * 5000  # deeper than Python's JSON parser recurses


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def malformed(cookie: str) -> dict[str, str]:
    """Cookie values of every shape that must read as signed out, made for this cookie name."""

    def with_header(header: bytes) -> str:  # a real token's parts behind another header
        return ".".join([_b64(header), *jwt_cookie("1", cookie=cookie).split(".")[1:]])

    def claims(**values: object) -> str:
        return jwt_cookie("1", cookie=cookie, **values)

    return {
        "deeply nested protected header": with_header(b'{"alg":"dir","x":' + DEEP + b"}"),
        "protected header that is nested JSON only": with_header(DEEP),
        "header number too long to parse": with_header(b'{"alg":"dir","x":' + b"1" * 5000 + b"}"),
        "huge": "A" * 20_000,
        "bad base64": "!!!.!!!.!!!.!!!.!!!",
        "exp NaN": claims(exp=float("nan")),
        "exp Infinity": claims(exp=float("inf")),
        "exp a string": claims(exp="9999999999"),
        "iat a boolean": claims(iat=True),
        "nbf far ahead": claims(nbf=2**31),
        "no exp": claims(exp=None),
        "empty": "",
    }


def cookies(cookie: str, count: int) -> list[tuple[str, str]]:
    """`count` Cookie headers, going round the malformed shapes."""
    shapes = itertools.cycle(malformed(cookie).items())
    return [(label, f"{cookie}={value}") for label, value in itertools.islice(shapes, count)]


@pytest.mark.parametrize("strategy", ["jwt", "database"])
@pytest.mark.parametrize("cookie_name", [V4_COOKIE, V5_COOKIE])
def test_45_malformed_cookies_from_one_ip_are_401_then_429(
    make_app, add_user, logs, strategy, cookie_name
):
    app = make_app(NEXTAUTH_SESSION_STRATEGY=strategy, ANONYMOUS_RATE_LIMIT="30 per minute")
    add_user(1)
    client = app.test_client(use_cookies=False)

    answers = [
        (label, client.get(URL, headers={"Cookie": c})) for label, c in cookies(cookie_name, 45)
    ]

    assert [(label, r.status_code) for label, r in answers] == [
        (label, 401 if n < 30 else 429) for n, (label, _) in enumerate(answers)
    ]
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for _, r in answers]
    assert remaining == list(range(29, -1, -1)) + [0] * 15
    assert {r.get_json()["error"]["code"] for _, r in answers[:30]} == {"UNAUTHORIZED"}
    assert {r.get_json()["error"]["code"] for _, r in answers[30:]} == {"RATE_LIMIT_EXCEEDED"}
    assert not [entry for entry in logs if entry["message"] == "unhandled error"]


@pytest.mark.parametrize("strategy", ["jwt", "database"])
def test_every_limited_route_counts_a_malformed_cookie(make_app, strategy):
    app = make_app(NEXTAUTH_SESSION_STRATEGY=strategy, ANONYMOUS_RATE_LIMIT="2 per minute")
    client = app.test_client(use_cookies=False)
    cookie = {"Cookie": f"{V4_COOKIE}={malformed(V4_COOKIE)['deeply nested protected header']}"}
    routes = [
        ("GET", URL, 401),
        ("POST", "/api/integrations/connect/onlyfans", 401),
        ("POST", "/api/integrations/refresh/onlyfans/of1", 401),
        ("DELETE", "/api/integrations/disconnect/onlyfans/of1", 401),
        ("GET", "/integrations", 302),  # signed out: off to NextAuth's sign-in page
    ]

    for method, path, signed_out in routes:
        codes = [
            client.open(path, method=method, headers=cookie, json={}).status_code for _ in range(3)
        ]
        assert codes == [signed_out, signed_out, 429], (method, path)
