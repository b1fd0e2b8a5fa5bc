"""GET /api/openapi.json describes every endpoint, and the real responses keep to it.

Two layers: schemathesis generates requests for every operation (signed in, valid and
invalid input) and checks each answer against the document; scripted requests then produce
every documented status, including those fuzzing cannot reach (429, 500, 502, 503), and
check those answers the same way.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from webapp.extensions import db
from webapp.identity.service_keys import SCOPES

from ..standins import authorize
from ..support.backends import bearer, make_key
from ..support.webhooks import (
    DEAUTHORIZE,
    DELETION,
    TIKTOK,
    b64url,
    meta_signed_request,
    post_meta,
    post_tiktok,
    signed_for_instagram,
    tiktok_body,
    tiktok_signature,
)

UNLIMITED = "100000 per minute"
COOKIE = "next-auth.session-token"
CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
STATUS = "GET /api/integrations/status"
CONNECT_ONLYFANS = "POST /api/integrations/connect/onlyfans"
CONNECT = "POST /api/integrations/connect/{provider}"
CALLBACK = "GET /api/integrations/callback/{provider}"
REFRESH = "POST /api/integrations/refresh/{provider}/{accountId}"
DISCONNECT = "DELETE /api/integrations/disconnect/{provider}/{accountId}"
TIKTOK_WEBHOOK = f"POST {TIKTOK}"
DEAUTHORIZE_WEBHOOK = f"POST {DEAUTHORIZE}"
DELETION_WEBHOOK = f"POST {DELETION}"
DELETION_STATUS = f"GET {DELETION}/{{code}}"
WEBHOOKS = [TIKTOK_WEBHOOK, DEAUTHORIZE_WEBHOOK, DELETION_WEBHOOK, DELETION_STATUS]
OPS = ["GET /livez", "GET /readyz", "GET /metrics", "GET /api/openapi.json"]
PLATFORM_LIST = "GET /api/platform/users/{userId}/integrations"
CREDENTIALS = "GET /api/platform/integrations/{integrationId}/credentials"
PLATFORM = [PLATFORM_LIST, CREDENTIALS]
WITH_INPUT = [CONNECT_ONLYFANS, CONNECT, CALLBACK, REFRESH, DISCONNECT, *WEBHOOKS, *PLATFORM]
# Rows with the providers and account ids of the contract's examples.
CONTRACT_ROWS = [
    {
        "provider": "instagram",
        "account_id": "123456789",
        "account_name": "@creator_account",
        "access_token": "ig-token",
    },
    {
        "provider": "tiktok",
        "account_id": "987654321",
        "account_name": "@tiktok_creator",
        "access_token": "tt-token",
        "refresh_token": "tt-refresh-unknown-to-tiktok",
    },
    {
        "provider": "onlyfans",
        "account_id": "of_555",
        "account_name": "creator_of",
        "api_key": "k" * 20,
    },
]


@pytest.fixture
def app_and_session_token(make_app, standins, add_user, db_session_cookie) -> tuple[Flask, str]:
    """An app with every provider (stand-ins), no effective rate limit, a body limit, and a
    signed-in creator holding the contract's integrations; returns the app and session token."""
    app = make_app(
        STATUS_RATE_LIMIT=UNLIMITED,
        ANONYMOUS_RATE_LIMIT=UNLIMITED,
        WEBHOOK_RATE_LIMIT=UNLIMITED,
        PLATFORM_RATE_LIMIT=UNLIMITED,
        PROVIDER_RETRIES="0",
        **standins.settings(),
    )
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_CONTENT_LENGTH"] or 16 * 1024
    add_user(1, CONTRACT_ROWS)
    return app, db_session_cookie(1)


@pytest.fixture
def service_key(app_and_session_token) -> str:
    """A key with every scope, for the backends' operations."""
    return make_key(app_and_session_token[0], "openapi", *SCOPES)


@pytest.fixture
def api_schema(app_and_session_token, service_key) -> Any:
    app, token = app_and_session_token
    config = schemathesis.Config.from_dict(
        {
            "seed": 20250116,
            "generation": {
                "max-examples": 30,
                "deterministic": True,
                "database": "none",
                # The session comes from `auth`; dropping it is tested once per operation by
                # schemathesis's ignored_auth check, not in every negative case.
                "with-security-parameters": False,
            },
            "auth": {
                "openapi": {
                    "sessionCookie": {"api_key": token},
                    "serviceKey": {"bearer": service_key},
                }
            },
        }
    )
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=config)


def documented(schema: Any) -> set[tuple[str, int]]:
    """Every (operation label, status) the document lists."""
    return {
        (f"{method.upper()} {path}", int(status))
        for path, item in schema.raw_schema["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
        for status in operation["responses"]
    }


def conforms(schema: Any, label: str, response: Any) -> tuple[str, int]:
    """Check one real response against the document; returns what it covered."""
    schema.find_operation_by_label(label).Case().validate_response(response, checks=CONFORMANCE)
    return label, response.status_code


# The document itself -------------------------------------------------------------------------


def test_document_is_valid_openapi_3_1(client):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()


def test_document_describes_every_route_of_the_api_and_ops(app, client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    described = {
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if method != "parameters"
    }

    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ("api", "platform", "webhooks", "ops", "openapi"):
            continue
        path = (
            rule.rule.replace("<path:account_id>", "{accountId}")
            .replace("<provider>", "{provider}")
            .replace("<code>", "{code}")
            .replace("<user_id>", "{userId}")
            .replace("<integration_id>", "{integrationId}")
        )
        routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    onlyfans = ("POST", "/api/integrations/connect/onlyfans")  # the same route, its own body
    assert described - {onlyfans} == routes


def test_document_is_not_rate_limited(make_app):
    client = make_app(ANONYMOUS_RATE_LIMIT="1 per minute").test_client()

    responses = [client.get("/api/openapi.json") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all("X-RateLimit-Limit" not in r.headers for r in responses)
    assert client.get("/api/integrations/status").status_code == 401
    assert client.get("/api/integrations/status").status_code == 429


def test_session_cookie_is_the_security_scheme(client):
    document = client.get("/api/openapi.json").get_json()
    scheme = document["components"]["securitySchemes"]["sessionCookie"]

    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "cookie", COOKIE)
    status = document["paths"]["/api/integrations/status"]["get"]
    assert status["security"] == [{"sessionCookie": []}]
    assert document["paths"]["/livez"]["get"]["security"] == []


def test_every_contract_error_code_is_documented_with_its_status(client):
    document = client.get("/api/openapi.json").get_json()
    codes = document["components"]["schemas"]["ErrorEnvelope"]["properties"]["error"]
    description = document["info"]["description"]

    for code, status in {
        "UNAUTHORIZED": 401,
        "INVALID_USER_ID": 400,
        "RATE_LIMIT_EXCEEDED": 429,
        "INTERNAL_ERROR": 500,
        "INVALID_PROVIDER": 400,
        "VALIDATION_ERROR": 400,
        "NOT_FOUND": 404,
        "FORBIDDEN": 403,
        "REAUTH_REQUIRED": 409,
        "PROVIDER_UNAVAILABLE": 502,
        "METHOD_NOT_ALLOWED": 405,
    }.items():
        assert code in codes["properties"]["code"]["enum"]
        assert f"| `{code}` | {status} |" in description


def test_contract_example_validates_and_near_misses_do_not(client):
    components = client.get("/api/openapi.json").get_json()["components"]
    validator = jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/IntegrationsStatus", "components": components}
    )
    item = {
        "id": 1,
        "provider": "instagram",
        "accountId": "123456789",
        "accountName": "@creator_account",
        "status": "connected",
        "expiresAt": "2025-12-31T23:59:59.000Z",
        "createdAt": "2025-01-01T00:00:00.000Z",
        "updatedAt": "2025-01-15T12:00:00.000Z",
    }
    example = {"success": True, "data": {"integrations": [item, {**item, "expiresAt": None}]}}

    assert validator.is_valid({**example, "duration": 45})
    for wrong in [
        {"expiresAt": "2025-12-31T23:59:59Z"},
        {"createdAt": "2025-01-01 00:00:00.000Z"},
        {"updatedAt": "2025-01-15T12:00:00.000+00:00"},
        {"status": "revoked"},
        {"provider": "myspace"},
        {"id": "1"},
        {"accessToken": "secret"},
    ]:
        body = {**example, "data": {"integrations": [{**item, **wrong}]}, "duration": 45}
        assert not validator.is_valid(body), wrong
    assert not validator.is_valid(example)  # duration is required


def test_undocumented_methods_get_405_with_allow(make_app, subtests):
    # Every 405 counts against the client IP's budget for requests no route takes.
    client = make_app(ANONYMOUS_RATE_LIMIT=UNLIMITED).test_client()
    paths = client.get("/api/openapi.json").get_json()["paths"]
    concrete = {
        "{provider}": "instagram",
        "{accountId}": "a1",
        "{code}": "c0de",
        "{userId}": "1",
        "{integrationId}": "1",
    }
    for template, item in paths.items():
        path = template
        for name, value in concrete.items():
            path = path.replace(name, value)
        allowed = {method.upper() for method in item if method != "parameters"}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
            with subtests.test(method=method, path=path):
                response = client.open(path, method=method)
                assert response.status_code == 405
                assert response.get_json()["error"]["code"] == "METHOD_NOT_ALLOWED"
                assert allowed <= set(response.headers["Allow"].split(", "))


# Generated requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "mode"),
    [(label, GenerationMode.POSITIVE) for label in [STATUS, *WITH_INPUT, *OPS]]
    # The deletion status's only input is a free path segment: no negative value exists.
    + [(label, GenerationMode.NEGATIVE) for label in WITH_INPUT if label != DELETION_STATUS],
)
def test_generated_requests_get_documented_answers(api_schema, label, mode):
    """No 5xx; status, content type, headers and body as documented; auth enforced."""
    operation = api_schema.find_operation_by_label(label)

    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        # Each example is a real request through the app and its database.
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate()

    answers_as_documented()


def test_generation_covers_every_operation(api_schema):
    labels = {label for label, _ in documented(api_schema)}

    assert labels == {STATUS, *WITH_INPUT, *OPS}


# Scripted requests for every documented status ----------------------------------------------


def test_every_documented_answer_is_real_and_conforms(
    app_and_session_token, standins, api_schema, db_session_cookie, make_app
):
    app, token = app_and_session_token
    client = app.test_client()
    client.set_cookie(COOKIE, token)
    anonymous = app.test_client()
    user_zero = app.test_client()
    user_zero.set_cookie(COOKIE, db_session_cookie(0))
    foreign = {"Origin": "https://evil.example"}
    big_form = {
        "data": "csrf_token=x&pad=" + "x" * 20_000,
        "content_type": "application/x-www-form-urlencoded",
    }
    key = {"accountId": "fans_1", "accountName": "Fans", "apiKey": "of_live_0123456789abcdef"}
    oauth_url = client.post("/api/integrations/connect/tiktok").get_json()["data"][
        "authorizationUrl"
    ]
    code, state = authorize(oauth_url)
    tiktok = standins.tiktok.account_id
    calls: list[tuple[str, Any]] = [
        (STATUS, client.get("/api/integrations/status")),
        (STATUS, anonymous.get("/api/integrations/status")),
        (STATUS, user_zero.get("/api/integrations/status")),
        (CONNECT_ONLYFANS, client.post("/api/integrations/connect/onlyfans", json=key)),
        (CONNECT_ONLYFANS, client.post("/api/integrations/connect/onlyfans", json=key)),
        (CONNECT_ONLYFANS, client.post("/api/integrations/connect/onlyfans", json={})),
        (CONNECT_ONLYFANS, anonymous.post("/api/integrations/connect/onlyfans", json=key)),
        (
            CONNECT_ONLYFANS,
            client.post("/api/integrations/connect/onlyfans", json=key, headers=foreign),
        ),
        (CONNECT_ONLYFANS, client.post("/api/integrations/connect/onlyfans", **big_form)),
        (CONNECT, client.post("/api/integrations/connect/reddit")),
        (CONNECT, client.post("/api/integrations/connect/myspace")),
        (CONNECT, anonymous.post("/api/integrations/connect/reddit")),
        (CONNECT, client.post("/api/integrations/connect/reddit", headers=foreign)),
        (CONNECT, client.post("/api/integrations/connect/reddit", **big_form)),
        (CALLBACK, client.get(f"/api/integrations/callback/tiktok?code={code}&state={state}")),
        (REFRESH, client.post(f"/api/integrations/refresh/tiktok/{tiktok}")),
        (REFRESH, client.post("/api/integrations/refresh/tiktok/987654321")),
        (REFRESH, client.post("/api/integrations/refresh/tiktok/nobody")),
        (REFRESH, client.post("/api/integrations/refresh/myspace/x")),
        (REFRESH, anonymous.post("/api/integrations/refresh/onlyfans/of_555")),
        (REFRESH, client.post("/api/integrations/refresh/onlyfans/of_555", headers=foreign)),
        (REFRESH, client.post("/api/integrations/refresh/onlyfans/of_555", **big_form)),
    ]
    standins.tiktok.fail_next("/v2/oauth/token/", 503, headers={"Retry-After": "120"})
    unavailable = client.post(f"/api/integrations/refresh/tiktok/{tiktok}")
    assert unavailable.headers["Retry-After"] == "120"
    calls += [
        (REFRESH, unavailable),
        (DISCONNECT, client.delete("/api/integrations/disconnect/instagram/123456789")),
        (DISCONNECT, client.delete("/api/integrations/disconnect/instagram/123456789")),
        (DISCONNECT, client.delete("/api/integrations/disconnect/myspace/x")),
        (DISCONNECT, anonymous.delete("/api/integrations/disconnect/onlyfans/of_555")),
        (
            DISCONNECT,
            client.delete("/api/integrations/disconnect/onlyfans/of_555", headers=foreign),
        ),
        (DISCONNECT, client.delete("/api/integrations/disconnect/onlyfans/of_555", **big_form)),
        *((label, anonymous.get(label.split(" ")[1])) for label in OPS),
    ]
    # The same creator and database, where their four integrations are all that is allowed.
    full = make_app(MAX_INTEGRATIONS_PER_USER="4", **standins.settings()).test_client()
    full.set_cookie(COOKIE, token)
    calls += [
        (
            CONNECT_ONLYFANS,
            full.post("/api/integrations/connect/onlyfans", json=key | {"accountId": "of_2"}),
        ),
        (CONNECT, full.post("/api/integrations/connect/reddit")),
    ]

    covered = {conforms(api_schema, label, response) for label, response in calls}

    assert covered == {
        pair
        for pair in documented(api_schema)
        if pair[0] not in (*WEBHOOKS, *PLATFORM) and pair[1] not in (429, 500, 503)
    }


def test_every_documented_backend_answer_is_real_and_conforms(
    app_and_session_token, standins, api_schema, service_key
):
    app, token = app_and_session_token
    backend = app.test_client()
    creator = app.test_client()
    creator.set_cookie(COOKIE, token)
    narrow = make_key(app, "narrow", "proxy")
    with app.app_context():
        ids = dict(db.session.execute(text("SELECT provider, id FROM integrations")).all())
        db.session.rollback()

    def get(path: str, key: str | None = service_key, **query: str) -> Any:
        return backend.get(path, headers=bearer(key) if key else {}, query_string=query)

    listing = "/api/platform/users/1/integrations"
    creds = "/api/platform/integrations/{}/credentials".format
    calls: list[tuple[str, Any]] = [
        (PLATFORM_LIST, get(listing)),
        (PLATFORM_LIST, get("/api/platform/users/0/integrations")),
        (PLATFORM_LIST, get(listing, key=None)),
        (PLATFORM_LIST, creator.get(listing)),  # a session cookie opens nothing here
        (PLATFORM_LIST, get(listing, key=narrow)),
        (CREDENTIALS, get(creds(ids["onlyfans"]))),
        (CREDENTIALS, get(creds(ids["onlyfans"]), forceRefresh="maybe")),
        (CREDENTIALS, get(creds(ids["onlyfans"]), key=None)),
        (CREDENTIALS, get(creds(ids["onlyfans"]), key=narrow)),
        (CREDENTIALS, get(creds(999999))),
    ]
    standins.instagram.fail_next("/refresh_access_token", 503, headers={"Retry-After": "30"})
    calls.append((CREDENTIALS, get(creds(ids["instagram"]), forceRefresh="true")))
    # The contract's TikTok row holds a refresh token TikTok never issued: a dead grant.
    calls.append((CREDENTIALS, get(creds(ids["tiktok"]), forceRefresh="true")))

    covered = {conforms(api_schema, label, response) for label, response in calls}

    assert covered == {
        pair for pair in documented(api_schema) if pair[0] in PLATFORM and pair[1] not in (429, 500)
    }


def test_every_documented_webhook_answer_is_real_and_conforms(
    app_and_session_token, standins, api_schema, make_app
):
    app, _ = app_and_session_token
    provider = app.test_client()
    not_offered = make_app().test_client()  # a deployment without TikTok or Instagram
    body = tiktok_body(standins)
    tiktok_secret = standins.tiktok.client_secret
    not_json = b"not json"
    ig = standins.instagram
    without_user = {"algorithm": "HMAC-SHA256", "issued_at": int(time.time())}
    no_user = meta_signed_request(b64url(json.dumps(without_user).encode()), ig.client_secret)
    too_big = b"x" * 20_000
    calls: list[tuple[str, Any]] = [
        (TIKTOK_WEBHOOK, post_tiktok(provider, body, tiktok_signature(body, tiktok_secret))),
        (
            TIKTOK_WEBHOOK,
            post_tiktok(provider, not_json, tiktok_signature(not_json, tiktok_secret)),
        ),
        (TIKTOK_WEBHOOK, post_tiktok(provider, body, None)),
        (TIKTOK_WEBHOOK, post_tiktok(not_offered, body, tiktok_signature(body, tiktok_secret))),
        (TIKTOK_WEBHOOK, post_tiktok(provider, too_big, tiktok_signature(too_big, tiktok_secret))),
    ]
    for label, path in [(DEAUTHORIZE_WEBHOOK, DEAUTHORIZE), (DELETION_WEBHOOK, DELETION)]:
        calls += [
            (label, post_meta(provider, path, signed_for_instagram(standins))),
            (label, post_meta(provider, path, no_user)),
            (label, post_meta(provider, path, None)),
            (label, post_meta(not_offered, path, signed_for_instagram(standins))),
            (label, post_meta(provider, path, "x" * 20_000)),
        ]
    url = post_meta(provider, DELETION, signed_for_instagram(standins)).get_json()["url"]
    status_path = urlsplit(url).path
    calls += [
        (DELETION_STATUS, provider.get(status_path)),
        (DELETION_STATUS, provider.get(status_path, headers={"Accept": "application/json"})),
        (DELETION_STATUS, provider.get(f"{DELETION}/0123456789abcdef0123")),
    ]

    covered = {conforms(api_schema, label, response) for label, response in calls}

    assert covered == {
        pair for pair in documented(api_schema) if pair[0] in WEBHOOKS and pair[1] not in (429, 500)
    }


def test_database_failures_are_documented_500s(app_and_session_token, standins, api_schema):
    app, token = app_and_session_token
    client = app.test_client()
    client.set_cookie(COOKIE, token)
    with app.app_context():
        db.session.execute(text("DROP TABLE oauth_states"))
        db.session.execute(text("DROP TABLE account_aliases"))  # it refers to integrations
        db.session.execute(text("DROP TABLE integrations"))
        db.session.execute(text("DROP TABLE deletion_requests"))
        db.session.commit()
    body = tiktok_body(standins)
    key = make_key(app, "db-failures", *SCOPES)
    calls = [
        (STATUS, client.get("/api/integrations/status")),
        (PLATFORM_LIST, client.get("/api/platform/users/1/integrations", headers=bearer(key))),
        (
            CREDENTIALS,
            client.get("/api/platform/integrations/1/credentials", headers=bearer(key)),
        ),
        (
            CONNECT_ONLYFANS,
            client.post(
                "/api/integrations/connect/onlyfans",
                json={
                    "accountId": "fans_1",
                    "accountName": "Fans",
                    "apiKey": "of_live_0123456789abcdef",
                },
            ),
        ),
        (CONNECT, client.post("/api/integrations/connect/reddit")),
        (REFRESH, client.post("/api/integrations/refresh/onlyfans/of_555")),
        (DISCONNECT, client.delete("/api/integrations/disconnect/onlyfans/of_555")),
        (
            TIKTOK_WEBHOOK,
            post_tiktok(client, body, tiktok_signature(body, standins.tiktok.client_secret)),
        ),
        (DEAUTHORIZE_WEBHOOK, post_meta(client, DEAUTHORIZE, signed_for_instagram(standins))),
        (DELETION_WEBHOOK, post_meta(client, DELETION, signed_for_instagram(standins))),
        (DELETION_STATUS, client.get(f"{DELETION}/0123456789abcdef0123")),
    ]

    covered = {conforms(api_schema, label, response) for label, response in calls}

    for _, response in calls:
        assert response.headers["Retry-After"] == "60"
    # The callback always lands on the page (`error=unavailable`); its 500 is the catch-all.
    assert covered == {
        pair for pair in documented(api_schema) if pair[1] == 500 and pair[0] != CALLBACK
    }


def test_rate_limited_answers_are_documented_429s(
    make_app, api_schema, add_user, db_session_cookie
):
    app = make_app(
        STATUS_RATE_LIMIT="1 per minute",
        ANONYMOUS_RATE_LIMIT="1 per minute",
        WEBHOOK_RATE_LIMIT="1 per minute",
        PLATFORM_RATE_LIMIT="1 per minute",
    )
    client = app.test_client()
    client.set_cookie(COOKIE, db_session_cookie(add_user(2)))
    for label, key in [
        (PLATFORM_LIST, make_key(app, "a", *SCOPES)),
        (CREDENTIALS, make_key(app, "b", *SCOPES)),
    ]:
        path = (
            "/api/platform/users/2/integrations"
            if label == PLATFORM_LIST
            else "/api/platform/integrations/1/credentials"
        )
        client.get(path, headers=bearer(key))
        limited = client.get(path, headers=bearer(key))
        assert int(limited.headers["Retry-After"]) >= 1
        assert conforms(api_schema, label, limited) == (label, 429)
    requests = {
        STATUS: ("GET", "/api/integrations/status"),
        CONNECT_ONLYFANS: ("POST", "/api/integrations/connect/onlyfans"),
        CONNECT: ("POST", "/api/integrations/connect/reddit"),
        REFRESH: ("POST", "/api/integrations/refresh/onlyfans/x"),
        DISCONNECT: ("DELETE", "/api/integrations/disconnect/onlyfans/x"),
        TIKTOK_WEBHOOK: ("POST", TIKTOK),
        DEAUTHORIZE_WEBHOOK: ("POST", DEAUTHORIZE),
        DELETION_WEBHOOK: ("POST", DELETION),
        DELETION_STATUS: ("GET", f"{DELETION}/0123456789abcdef0123"),
    }
    covered = {(PLATFORM_LIST, 429), (CREDENTIALS, 429)}
    for label, (method, path) in requests.items():
        client.open(path, method=method)
        limited = client.open(path, method=method)
        assert int(limited.headers["Retry-After"]) >= 1
        covered.add(conforms(api_schema, label, limited))

    assert covered == {pair for pair in documented(api_schema) if pair[1] == 429}
    client.get("/api/integrations/callback/reddit")
    landed = client.get("/api/integrations/callback/reddit")  # a browser's navigation
    assert conforms(api_schema, CALLBACK, landed) == (CALLBACK, 303)
    assert landed.headers["Location"] == "/integrations?error=rate_limited&provider=reddit"


def test_unready_is_a_documented_503(make_app, api_schema):
    client = make_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0").test_client()

    response = client.get("/readyz")

    assert response.get_json()["checks"]["rateLimitStorage"] == "unreachable"
    assert conforms(api_schema, "GET /readyz", response) == ("GET /readyz", 503)


def test_document_examples_are_accepted(client):
    """The request example a reader would copy is valid input."""
    document = client.get("/api/openapi.json").get_json()
    example = document["components"]["schemas"]["ApiKey"]["example"]
    validator = jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/ApiKey", "components": document["components"]}
    )

    assert validator.is_valid(example)
