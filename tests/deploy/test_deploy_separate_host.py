"""deploy/nginx-separate-host.conf: the service on a host of its own, in front of the same two
gunicorns, with CORS for the platform's exact origin and for no other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from ..support.deploy.client import Reply, raw_request, request
from ..support.deploy.servers import eventually
from ..support.deploy.sites import SEPARATE_HOST, platform_origin
from ..support.deploy.stack import Stack, require_deployment, seeded_schema, start_stack

NOT_FOUND = {"success": False, "error": {"code": "NOT_FOUND", "message": "Not found"}}
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    require_deployment("the separate-host deployment test")
    directory = tmp_path_factory.mktemp("separate-host")
    with seeded_schema() as (env, tokens), ExitStack() as resources:
        yield start_stack(resources, env, tokens, directory, SEPARATE_HOST)


@pytest.fixture(scope="module")
def platform(stack) -> str:
    return platform_origin(stack.nginx.ports.platform)


def preflight(stack: Stack, origin: str, path: str, **headers: str) -> Reply:
    """What a browser asks before a cross-origin DELETE."""
    headers = {"Origin": origin, "Access-Control-Request-Method": "DELETE", **headers}
    return stack.get(path, method="OPTIONS", headers=headers)


def varies_with_origin(reply: Reply) -> bool:
    values = ",".join(reply.headers.get_all("Vary") or [])
    return "Origin" in [value.strip() for value in values.split(",")]


def test_the_platforms_credentialed_fetch_gets_its_exact_origin_back(stack, platform):
    reply = stack.get(user=1, headers={"Origin": platform})

    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == platform
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    exposed = reply.headers["Access-Control-Expose-Headers"].split(", ")
    assert {"X-Correlation-Id", "X-RateLimit-Remaining", "Retry-After"} <= set(exposed)
    assert "Access-Control-Allow-Methods" not in reply.headers  # for preflights only
    assert varies_with_origin(reply)


def test_a_401_carries_the_cors_headers_so_the_platforms_script_can_read_it(stack, platform):
    reply = stack.get(headers={"Origin": platform})

    assert reply.status == 401
    assert reply.json()["error"]["code"] == "UNAUTHORIZED"
    assert reply.headers["Access-Control-Allow-Origin"] == platform
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"


def test_nginx_answers_the_preflight_of_a_disconnect_and_then_the_delete_goes_through(
    stack, platform
):
    path = "/api/integrations/disconnect/reddit/acct-2"
    sent = str(uuid.uuid4())

    allowed = preflight(
        stack,
        platform,
        path,
        **{"Access-Control-Request-Headers": "content-type", "X-Correlation-Id": sent},
    )
    deleted = stack.get(path, user=2, method="DELETE", headers={"Origin": platform})
    after = stack.get(user=2, headers={"Origin": platform})

    assert allowed.status == 204 and allowed.body == b""
    assert allowed.headers["Access-Control-Allow-Origin"] == platform
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "DELETE" in allowed.headers["Access-Control-Allow-Methods"].split(", ")
    assert "Content-Type" in allowed.headers["Access-Control-Allow-Headers"].split(", ")
    assert allowed.headers["Access-Control-Max-Age"] == "600"
    assert varies_with_origin(allowed)
    assert not eventually(lambda: stack.app_saw(sent), timeout=0.5)  # nginx answered alone
    assert deleted.status == 200
    assert deleted.headers["Access-Control-Allow-Origin"] == platform
    assert after.json()["data"]["integrations"] == []


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "{platform}.evil.example",
        "http://{host}",
        "https://{host}0",
    ],
)
def test_any_other_origin_gets_no_cors_header_and_its_delete_is_refused(stack, platform, origin):
    origin = origin.format(platform=platform, host=platform.removeprefix("https://"))
    path = "/api/integrations/disconnect/reddit/acct-3"

    read = stack.get(user=3, headers={"Origin": origin})
    asked = preflight(stack, origin, path)
    deleted = stack.get(path, user=3, method="DELETE", headers={"Origin": origin})

    for reply in (read, asked, deleted):
        assert [h for h in CORS_HEADERS if h in reply.headers] == [], reply.headers
        assert varies_with_origin(reply)
    assert read.status == 200  # a browser would not let the other site's script read it
    assert deleted.status == 403 and deleted.json()["error"]["code"] == "FORBIDDEN"
    assert len(stack.get(user=3).json()["data"]["integrations"]) == 1


@pytest.mark.parametrize("path", ["/", "/api/auth/session", "/dashboard", "/metrics"])
def test_only_the_services_paths_answer_on_its_host(stack, path):
    reply = stack.get(path)

    assert reply.status == 404 and reply.json() == NOT_FOUND
    assert stack.platform.paths() == []


def test_plain_http_is_redirected_to_the_services_own_host(stack):
    reply = request(stack.nginx.http_port, "/integrations?a=1", headers={"Host": "evil.example"})

    assert reply.status == 301
    assert reply.headers["Location"] == "https://integrations.example.com/integrations?a=1"


def test_nginx_s_own_errors_on_its_host_are_json_with_hsts(stack):
    unreadable = b"GET /integrations HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"

    bad = raw_request(stack.nginx.port, unreadable, tls=stack.tls)
    missing = stack.get("/")

    assert bad.status == 400 and bad.json()["error"]["code"] == "BAD_REQUEST"
    assert uuid.UUID(bad.headers["X-Correlation-Id"]).version == 4
    for reply in (bad, missing):
        assert reply.headers["Strict-Transport-Security"] == "max-age=31536000"
