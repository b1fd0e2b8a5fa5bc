"""Bad input at every endpoint: the documented 4xx, nothing stored, no stack trace answered.

Each test sends many hostile variants to one app (subtests), so both database backends run
without building an app per variant.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Integration, OAuthState

from ..support.app import jwt_cookie

COOKIE = "next-auth.session-token"
HX = {"HX-Request": "true"}
UNLIMITED = "100000 per minute"
BODY_LIMIT = 16 * 1024  # what the service should refuse above; see test_oversized_bodies
# What a stack trace or a driver error would leave in a response.
LEAKS = re.compile(
    r'Traceback|File "|\b[A-Z][a-z]+[A-Za-z]*(?:Error|Exception)\b|sqlalchemy|psycopg|werkzeug'
)
INJECTIONS = [
    "' OR 1=1 --",
    "1; DROP TABLE integrations; --",
    '" OR ""="',
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    "${jndi:ldap://x}",
]
# Path segments, percent-encoded as a client would send them (werkzeug decodes them).
BAD_SEGMENTS = [
    quote("x" * 10_000, safe=""),
    quote("a\x00b", safe=""),
    quote("\x00", safe=""),
    quote("\x01\x07\x1b[31m\x7f\x85", safe=""),
    quote("a\r\nSet-Cookie: x=1", safe=""),
    quote("ünï😀" * 30, safe=""),
    quote("\u202eof1", safe=""),
    quote("of1 ", safe=""),
    quote("OF1", safe=""),
    quote("../of1", safe=""),
    "%FF%FE",  # not UTF-8
    "%ED%A0%80",  # an encoded lone surrogate
    "%2500",  # a double-encoded NUL
    *(quote(value, safe="") for value in INJECTIONS),
]
BAD_PROVIDERS = [
    "INSTAGRAM",
    quote("instagram ", safe=""),
    quote("insta\x00gram", safe=""),
    quote("p" * 10_000, safe=""),
    quote("😀", safe=""),
    *(quote(value, safe="") for value in INJECTIONS if "/" not in value),
]
API_KEY = "of_live_0123456789abcdef"


@pytest.fixture
def app_and_signed_in_client(make_app, add_user, db_session_cookie) -> tuple[Flask, FlaskClient]:
    """The app and a client signed in as a creator with an Instagram and an OnlyFans integration.

    The OAuth providers are configured (connect builds their URLs) but point at a closed
    port: no bad input may ever reach them.
    """
    providers = {}
    for name in ("INSTAGRAM", "TIKTOK", "REDDIT"):
        providers |= {
            f"{name}_CLIENT_ID": f"{name.lower()}-client",
            f"{name}_CLIENT_SECRET": f"{name.lower()}-secret",
            f"{name}_BASE_URL": "http://127.0.0.1:9",
        }
    app = make_app(
        STATUS_RATE_LIMIT=UNLIMITED,
        ANONYMOUS_RATE_LIMIT=UNLIMITED,
        PROVIDER_RETRIES="0",
        **providers,
    )
    add_user(
        1,
        [
            {"provider": "instagram", "account_id": "ig1", "account_name": "@creator"},
            {"provider": "onlyfans", "account_id": "of1", "account_name": "of", "api_key": API_KEY},
        ],
    )
    client = app.test_client()
    client.set_cookie(COOKIE, db_session_cookie(1))
    return app, client


@pytest.fixture
def unchanged(app_and_signed_in_client, caplog) -> Iterator[None]:
    """After the test: the same stored rows, and nothing logged at ERROR (no unhandled error)."""
    app, _ = app_and_signed_in_client
    before = stored(app)
    yield
    assert stored(app) == before
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def stored(app: Flask) -> tuple[list[Any], int]:
    with app.app_context():
        rows = db.session.execute(
            select(
                Integration.id,
                Integration.provider,
                Integration.account_id,
                Integration.account_name,
                Integration.updated_at,
            ).order_by(Integration.id)
        ).all()
        states = db.session.execute(select(func.count()).select_from(OAuthState)).scalar_one()
    return [tuple(row) for row in rows], states


def assert_no_leak(response: Any) -> None:
    text = response.get_data(as_text=True)
    assert not LEAKS.search(text), text[:500]
    for name, value in response.headers.items():
        assert not LEAKS.search(value), (name, value[:200])


def assert_refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    """A JSON error envelope with this status and code, and nothing more revealing."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"].get("field") == field
    assert set(body) <= {"success", "error", "duration"}
    assert_no_leak(response)


def csrf_token(client: FlaskClient) -> str:
    page = client.get("/integrations").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found[1]


def post_json(client: FlaskClient, path: str, raw: bytes | str, **headers: str) -> Any:
    return client.post(path, data=raw, headers={"Content-Type": "application/json", **headers})


# Cookies --------------------------------------------------------------------------------------

BAD_COOKIES = [
    f"{COOKIE}=",
    f"{COOKIE}={'A' * 20_000}",
    f"{COOKIE}={'A' * 4_000}",
    f"{COOKIE}=tok\x00en",
    f"{COOKIE}=tok\x01\x1fen",
    f"{COOKIE}={'ünï😀'.encode().decode('latin-1')}",
    f'{COOKIE}="unterminated',
    "=;=;;==;",
    "; ".join(f"{COOKIE}.{i}=x" for i in range(40)),
    *(f"{COOKIE}={quote(value)}" for value in INJECTIONS),
    *(f"{COOKIE}={value}" for value in INJECTIONS if ";" not in value),
]
API_CALLS = [
    ("GET", "/api/integrations/status"),
    ("POST", "/api/integrations/connect/onlyfans"),
    ("POST", "/api/integrations/connect/instagram"),
    ("POST", "/api/integrations/refresh/onlyfans/of1"),
    ("DELETE", "/api/integrations/disconnect/onlyfans/of1"),
]


def test_bad_session_cookies_get_401_everywhere(app_and_signed_in_client, unchanged, subtests):
    app, signed_in = app_and_signed_in_client
    token = signed_in.get_cookie(COOKIE).value
    client = app.test_client(use_cookies=False)  # a cookie jar would replace the raw header
    body = json.dumps({"accountId": "fans", "accountName": "Fans", "apiKey": API_KEY})
    near_misses = [
        f"{COOKIE}={token}\x00",
        f"{COOKIE}={token.upper()}",
        f"{COOKIE}={token[:-1]}",
        f"{COOKIE}.0={token}; {COOKIE}.2=x",  # chunks with a gap
        f"next-auth.session-tokenx={token}",
    ]
    for cookie in BAD_COOKIES + near_misses:
        for method, path in API_CALLS:
            with subtests.test(cookie=cookie[:60], path=path):
                response = client.open(
                    path,
                    method=method,
                    data=body,
                    headers={"Cookie": cookie, "Content-Type": "application/json"},
                )
                assert_refused(response, 401, "UNAUTHORIZED")
                assert "duration" not in response.get_json()
        with subtests.test(cookie=cookie[:60], path="callback"):
            response = client.get(
                "/api/integrations/callback/instagram?code=c&state=s", headers={"Cookie": cookie}
            )
            assert response.status_code == 303
            assert response.headers["Location"].startswith("/integrations?error=signed_out")
        with subtests.test(cookie=cookie[:60], path="page"):
            page = client.get("/integrations", headers={"Cookie": cookie, **HX})
            assert page.status_code == 401
            assert_no_leak(page)
        with subtests.test(cookie=cookie[:60], path="page action"):
            # Without a session there is no CSRF token to match: refused before anything else.
            action = client.delete(
                "/integrations/onlyfans/of1/disconnect",
                headers={"Cookie": cookie, "X-CSRF-Token": "x", **HX},
            )
            assert action.status_code == 403
            assert_no_leak(action)


def test_bad_jwt_session_cookies_get_401(make_app, subtests):
    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt", ANONYMOUS_RATE_LIMIT=UNLIMITED)
    client = app.test_client(use_cookies=False)
    valid = jwt_cookie("1")
    rest = valid.split(".", 1)[1]
    tokens = [
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",  # alg "none"
        "a.b.c.d.e",
        "....",
        "e" * 16_000,
        valid[:-4] + "AAAA",  # tampered tag
        valid.replace(".", "..", 1),
        "eyJ" + "A" * 5000 + "." + rest,
        quote("\x00" + valid),
        jwt_cookie("1", cookie="authjs.session-token"),  # salted for another cookie name
        *INJECTIONS,
    ]
    for token in tokens:
        with subtests.test(token=token[:60]):
            response = client.get(
                "/api/integrations/status", headers={"Cookie": f"{COOKIE}={token}"}
            )
            assert_refused(response, 401, "UNAUTHORIZED")
    for sub in ["0", "-1", "1.5", "1e3", " 1", "٣", "99999999999", "1 OR 1=1", "<b>1</b>"]:
        with subtests.test(sub=sub):
            response = client.get(
                "/api/integrations/status", headers={"Cookie": f"{COOKIE}={jwt_cookie(sub)}"}
            )
            assert_refused(response, 400, "INVALID_USER_ID")


# Path segments --------------------------------------------------------------------------------


def test_bad_account_ids_at_the_api_get_404(app_and_signed_in_client, unchanged, subtests):
    _, client = app_and_signed_in_client
    for segment in BAD_SEGMENTS:
        for method, action in (("POST", "refresh"), ("DELETE", "disconnect")):
            for provider in ("onlyfans", "instagram"):
                path = f"/api/integrations/{action}/{provider}/{segment}"
                with subtests.test(path=path[:120]):
                    assert_refused(client.open(path, method=method), 404, "NOT_FOUND")


def test_bad_providers_at_the_api_get_400_invalid_provider(
    app_and_signed_in_client, unchanged, subtests
):
    _, client = app_and_signed_in_client
    for provider in BAD_PROVIDERS:
        for method, path in (
            ("POST", f"/api/integrations/connect/{provider}"),
            ("POST", f"/api/integrations/refresh/{provider}/of1"),
            ("DELETE", f"/api/integrations/disconnect/{provider}/of1"),
        ):
            with subtests.test(path=path[:120]):
                assert_refused(client.open(path, method=method), 400, "INVALID_PROVIDER")
        with subtests.test(path=f"callback/{provider[:60]}"):
            response = client.get(f"/api/integrations/callback/{provider}?code=c&state=s")
            assert response.status_code == 303
            location = response.headers["Location"]
            assert location.startswith("/integrations?error=invalid_provider")
            assert not re.search(r"[<>\"'\s\x00]", location)


def test_bad_segments_at_the_page_actions_change_nothing(
    app_and_signed_in_client, unchanged, subtests
):
    _, client = app_and_signed_in_client
    token = csrf_token(client)
    htmx = {**HX, "X-CSRF-Token": token}
    for segment in BAD_SEGMENTS:
        for method, action in (("POST", "reconnect"), ("DELETE", "disconnect")):
            path = f"/integrations/instagram/{segment}/{action}"
            with subtests.test(path=path[:120], htmx=True):
                response = client.open(path, method=method, headers=htmx)
                assert response.status_code == 404
                assert_no_leak(response)
            with subtests.test(path=path[:120], htmx=False):
                response = client.post(path, data={"csrf_token": token})
                assert response.status_code in (303, 404)
                if response.status_code == 303:
                    location = response.headers["Location"]
                    assert location == "/integrations?error=not_found&provider=instagram"
                assert_no_leak(response)
    for provider in BAD_PROVIDERS:
        path = f"/integrations/{provider}/of1/disconnect"
        with subtests.test(path=path[:120]):
            response = client.delete(path, headers=htmx)
            assert response.status_code == 400
            assert "That provider is not available." in response.get_data(as_text=True)
            assert_no_leak(response)


# Bodies ---------------------------------------------------------------------------------------


def onlyfans(**fields: Any) -> str:
    return json.dumps({"accountId": "fans", "accountName": "Fans", "apiKey": API_KEY, **fields})


MALFORMED_JSON: list[tuple[str | bytes, str | None]] = [
    ("", None),
    ('{"accountId": "fans", "accountName": "Fa', None),  # truncated
    ("{'accountId': 'fans'}", None),  # not JSON
    ("null", None),
    ("[]", None),
    (f"[{onlyfans()}]", None),
    ('"fans"', None),
    ("12345", None),
    ("true", None),
    ("NaN", None),
    ("{}", "accountId"),
    (b"\xff\xfe\x00{", None),  # not UTF-8
    ("[" * 100_000, None),  # deeper than any parser recursion limit
    ('{"a":' * 50_000, None),
    (onlyfans(accountId=12345), "accountId"),  # a number, not a string
    (onlyfans(accountId=None), "accountId"),
    (onlyfans(accountId=["fans"]), "accountId"),
    (onlyfans(accountId={"$ne": None}), "accountId"),
    (onlyfans(accountId=""), "accountId"),
    (onlyfans(accountId="x" * 65), "accountId"),
    (onlyfans(accountId="fans page"), "accountId"),
    (onlyfans(accountId="fans\x00"), "accountId"),
    (onlyfans(accountId="fäns"), "accountId"),
    (onlyfans(accountName=""), "accountName"),
    (onlyfans(accountName="   "), "accountName"),
    (onlyfans(accountName="x" * 101), "accountName"),
    (onlyfans(accountName="😀" * 101), "accountName"),
    (onlyfans(accountName="x" * 1_000_000), "accountName"),
    (onlyfans(accountName="Fans\x00"), "accountName"),
    (onlyfans(accountName="Fans\x1b[31m"), "accountName"),
    (onlyfans(accountName="Fa\x85ns"), "accountName"),  # C1 control (at the ends: trimmed)
    (onlyfans(accountName="Fans\ud800"), "accountName"),  # a lone surrogate, \ud800 in JSON
    (onlyfans(accountName=True), "accountName"),
    (onlyfans(accountName=7), "accountName"),
    (onlyfans(apiKey="short"), "apiKey"),
    (onlyfans(apiKey="k" * 513), "apiKey"),
    (onlyfans(apiKey="key with spaces 0123456789"), "apiKey"),
    (onlyfans(apiKey="ключ" * 10), "apiKey"),
    (onlyfans(apiKey=1234567890123456789), "apiKey"),
    *((onlyfans(accountId=value), "accountId") for value in INJECTIONS),
    *((onlyfans(apiKey=value), "apiKey") for value in INJECTIONS if " " in value),
]


def test_malformed_json_bodies_get_400(app_and_signed_in_client, unchanged, subtests):
    app, client = app_and_signed_in_client
    limit = app.config["MAX_CONTENT_LENGTH"]
    for raw, field in MALFORMED_JSON:
        with subtests.test(body=repr(raw)[:80]):
            response = post_json(client, "/api/integrations/connect/onlyfans", raw)
            if limit and len(raw) > limit:  # refused before it is read
                assert_refused(response, 413, "PAYLOAD_TOO_LARGE")
            else:
                assert_refused(response, 400, "VALIDATION_ERROR", field)


WRONG_CONTENT_TYPES: list[tuple[str | None, int, str]] = [
    ("text/plain", 403, "FORBIDDEN"),  # a cross-site form can send it: needs the CSRF token
    ("application/x-www-form-urlencoded", 403, "FORBIDDEN"),
    ("multipart/form-data", 403, "FORBIDDEN"),
    ("multipart/form-data; boundary=x", 403, "FORBIDDEN"),
    ("application/xml", 400, "VALIDATION_ERROR"),
    ("application/octet-stream", 400, "VALIDATION_ERROR"),
    ("application/jsonx", 400, "VALIDATION_ERROR"),
    ("a/b/c;;;=", 400, "VALIDATION_ERROR"),
    (None, 400, "VALIDATION_ERROR"),
]


def test_wrong_content_types_are_refused(app_and_signed_in_client, unchanged, subtests):
    _, client = app_and_signed_in_client
    for content_type, status, code in WRONG_CONTENT_TYPES:
        with subtests.test(content_type=content_type):
            headers = {"Content-Type": content_type} if content_type else {}
            response = client.post(
                "/api/integrations/connect/onlyfans", data=onlyfans(), headers=headers
            )
            field = "accountId" if code == "VALIDATION_ERROR" else None
            assert_refused(response, status, code, field)


def test_oversized_bodies_get_413_wherever_a_body_is_read(
    app_and_signed_in_client, unchanged, subtests
):
    """MAX_CONTENT_LENGTH refuses a body before it is read into memory (set here when unset)."""
    app, client = app_and_signed_in_client
    limit = app.config["MAX_CONTENT_LENGTH"] or BODY_LIMIT
    app.config["MAX_CONTENT_LENGTH"] = limit
    # The token travels in the form, so even the cross-site check has to read the body.
    form = f"csrf_token={csrf_token(client)}&accountId=fans&accountName=Fans&apiKey={API_KEY}&x="
    form += "x" * (limit + 1 - len(form))
    calls = [
        ("POST", "/api/integrations/connect/onlyfans", onlyfans(accountName="x" * limit)),
        ("POST", "/api/integrations/connect/onlyfans", form),
        ("POST", "/api/integrations/connect/instagram", form),
        ("POST", "/api/integrations/refresh/onlyfans/of1", form),
        ("DELETE", "/api/integrations/disconnect/onlyfans/of1", form),
        ("POST", "/integrations/connect/onlyfans", form),
        ("POST", "/integrations/instagram/ig1/reconnect", form),
        ("POST", "/integrations/instagram/ig1/disconnect", form),
    ]
    for method, path, body in calls:
        kind = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
        with subtests.test(path=path, kind=kind):
            response = client.open(path, method=method, data=body, headers={"Content-Type": kind})
            assert_refused(response, 413, "PAYLOAD_TOO_LARGE")


def test_huge_json_without_a_body_limit_is_still_a_400(
    app_and_signed_in_client, unchanged, subtests
):
    app, client = app_and_signed_in_client
    app.config["MAX_CONTENT_LENGTH"] = None
    for raw, field in [
        (onlyfans(accountName="x" * 2_000_000), "accountName"),
        (json.dumps(["x"] * 500_000), None),
        (json.dumps({f"k{i}": i for i in range(200_000)}), "accountId"),
    ]:
        with subtests.test(body=raw[:40]):
            response = post_json(client, "/api/integrations/connect/onlyfans", raw)
            assert_refused(response, 400, "VALIDATION_ERROR", field)


def test_the_onlyfans_form_refuses_bad_values_with_escaped_errors(
    app_and_signed_in_client, unchanged, subtests
):
    _, client = app_and_signed_in_client
    token = csrf_token(client)
    values = [
        {"accountId": value, "accountName": value, "apiKey": value}
        for value in [*INJECTIONS, "\x00", "x" * 4_000, "😀" * 200, "\x1b[2J"]
    ]
    values += [{}, {"accountId": "a", "accountName": "b"}]
    for fields in values:
        for headers in ({}, HX):
            with subtests.test(fields=repr(fields)[:80], htmx=bool(headers)):
                response = client.post(
                    "/integrations/connect/onlyfans",
                    data={"csrf_token": token, **fields},
                    headers=headers,
                )
                html = response.get_data(as_text=True)
                assert response.status_code == 422
                assert "<script>alert" not in html and "<img src=x" not in html
                assert_no_leak(response)


# Headers --------------------------------------------------------------------------------------


def test_huge_and_hostile_headers_do_not_break_reads(app_and_signed_in_client, unchanged, subtests):
    _, client = app_and_signed_in_client
    headers = [
        {"X-Correlation-Id": "c" * 65_536},
        {"X-Correlation-Id": "<script>alert(1)</script>"},
        {"User-Agent": "u" * 65_536},
        {"Accept": "*/*;q=" + "9" * 5_000},
        {"Accept-Encoding": "gzip;q=NaN, " * 500},
        {"HX-Request": "h" * 10_000},
        {"If-None-Match": '"' + "e" * 10_000 + '"'},
        {"X-Forwarded-For": "1.1.1.1, <script>, ' OR 1=1 --"},
        {"X-Forwarded-Host": "evil.example"},
        {"Range": "bytes=0-1,-1,0-" * 500},
        {"Content-Type": "application/json; charset=" + "x" * 5_000},
        {"X-Unicode": "ünï😀".encode().decode("latin-1")},
        {f"X-{'n' * 1_000}": "long name"},
        {**{f"X-Many-{i}": "v" for i in range(500)}},
    ]
    for extra in headers:
        with subtests.test(headers=repr(extra)[:80]):
            response = client.get("/api/integrations/status", headers=extra)
            assert response.status_code == 200
            assert len(response.headers["X-Correlation-Id"]) == 36
            assert_no_leak(response)


def test_cross_site_and_oversized_origins_get_403(app_and_signed_in_client, unchanged, subtests):
    _, client = app_and_signed_in_client
    forged = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "http://localhost:80@evil.example"},
        {"Origin": "https://" + "o" * 10_000},
        {"Origin": "<script>"},
        {"Sec-Fetch-Site": "cross-site"},
        {"HX-Request": "true"},  # HTMX from anywhere needs the token
        {"HX-Request": "true", "X-CSRF-Token": "x" * 10_000},
        {"HX-Request": "true", "X-CSRF-Token": "' OR 1=1 --"},
    ]
    calls = [
        ("POST", "/api/integrations/connect/onlyfans"),
        ("POST", "/api/integrations/connect/instagram"),
        ("POST", "/api/integrations/refresh/onlyfans/of1"),
        ("DELETE", "/api/integrations/disconnect/onlyfans/of1"),
    ]
    for extra in forged:
        for method, path in calls:
            with subtests.test(headers=repr(extra)[:80], path=path):
                response = client.open(
                    path,
                    method=method,
                    data=onlyfans(accountId="forged"),
                    headers={"Content-Type": "application/json", **extra},
                )
                assert_refused(response, 403, "FORBIDDEN")


# Query strings --------------------------------------------------------------------------------


def test_hostile_query_strings_are_ignored_by_reads(app_and_signed_in_client, unchanged, subtests):
    _, client = app_and_signed_in_client
    queries = [
        "error=<script>alert(1)</script>&provider=<b>x</b>",
        "connected=" + "x" * 10_000,
        "refreshed=%00&disconnected=%FF%FE",
        "error=state_invalid' OR 1=1 --&provider=instagram",
        "&&&===;;",
        "error=1&error=2&error[]=3",
        "userId=2&user_id=2",  # no say over whose integrations are listed
    ]
    reads = [
        "/integrations",
        "/api/integrations/status",
        "/livez",
        "/readyz",
        "/metrics",
        "/api/openapi.json",
    ]
    for query in queries:
        for path in reads:
            with subtests.test(path=path, query=query[:60]):
                response = client.get(f"{path}?{query}")
                assert response.status_code == 200
                assert "<script>alert" not in response.get_data(as_text=True)
                assert_no_leak(response)
        with subtests.test(query=query[:60], owner=True):
            listed = client.get(f"/api/integrations/status?{query}").get_json()
            assert [item["accountId"] for item in listed["data"]["integrations"]] == ["ig1", "of1"]


def test_callback_garbage_lands_on_the_page_with_known_words_only(
    app_and_signed_in_client, unchanged, subtests
):
    _, client = app_and_signed_in_client
    garbage = [*INJECTIONS, "\x00", "x" * 10_000, "😀" * 100, "%00", "a&error=access_denied"]
    for value in garbage:
        for name in ("code", "state", "error"):
            with subtests.test(name=name, value=value[:40]):
                query = {"code": "c", "state": "s", name: value}
                response = client.get("/api/integrations/callback/instagram", query_string=query)
                assert response.status_code == 303
                location = response.headers["Location"]
                assert re.fullmatch(r"/integrations\?error=[a-z_]+&provider=instagram", location)
                assert_no_leak(response)


# Injection strings that are valid values ------------------------------------------------------


def test_injection_strings_in_names_are_stored_verbatim_and_shown_escaped(
    app_and_signed_in_client, subtests
):
    app, client = app_and_signed_in_client
    names = [value for value in INJECTIONS if len(value) <= 100]
    for position, name in enumerate(names):
        with subtests.test(name=name):
            response = post_json(
                client,
                "/api/integrations/connect/onlyfans",
                onlyfans(accountId=f"inj{position}", accountName=name),
            )
            assert response.status_code == 201
            assert response.get_json()["data"]["integration"]["accountName"] == name
    listed = client.get("/api/integrations/status").get_json()["data"]["integrations"]
    assert [item["accountName"] for item in listed[2:]] == names
    html = client.get("/integrations").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(stored(app)[0]) == 2 + len(names)  # the table is intact
