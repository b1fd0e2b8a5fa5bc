"""deploy/nginx.conf, the platform's edge on one origin, in front of two gunicorn instances
sharing PostgreSQL and Redis, and of the platform's Next.js app (a stand-in here; the real one
in tests/deploy/test_platform_e2e.py).

Real processes on loopback ports: nginx (TLS) and two gunicorns, the config files as they
ship, the only changes being the deploy-specific lines of deploy/ (ports, paths).
"""

from __future__ import annotations

import gzip
import http.client
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis

from webapp import create_app
from webapp.database import dispose_engines

from ..support.app import TEST_REDIS_URL
from ..support.backends import bearer, make_key
from ..support.deploy.client import Reply, raw_request, request, session_cookie
from ..support.deploy.servers import Nginx, eventually, free_port
from ..support.deploy.sites import seconds
from ..support.deploy.slow import SlowHeaderClients
from ..support.deploy.stack import (
    URL,
    USERS,
    Stack,
    edge_ports,
    require_deployment,
    seeded_schema,
    start_stack,
)
from ..support.deploy.tls import client_context, make_certificate
from ..support.processes import ROOT

CONNECT = "/api/integrations/connect/onlyfans"
ANONYMOUS_LIMIT = 5
PEER = "127.0.0.2"
NOT_FOUND = {"success": False, "error": {"code": "NOT_FOUND", "message": "Not found"}}
HSTS = "max-age=31536000"
SLOW_CLIENTS = 50
# How long nginx waits for a client's headers, on the public and on the monitoring ports.
HEADER_TIMEOUT = max(
    seconds(snippet, "client_header_timeout")
    for snippet in ("integrations-server.conf", "integrations-http.conf")
)


def ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


@pytest.fixture(scope="module")
def services() -> None:
    require_deployment("the deployment test")


@pytest.fixture(scope="module")
def app_env_and_tokens(services) -> Iterator[tuple[dict[str, str], dict[int, str]]]:
    with seeded_schema(ANONYMOUS_RATE_LIMIT=f"{ANONYMOUS_LIMIT} per minute") as found:
        yield found


@pytest.fixture(scope="module")
def stack(app_env_and_tokens, tmp_path_factory) -> Iterator[Stack]:
    env, tokens = app_env_and_tokens
    with ExitStack() as resources:
        yield start_stack(resources, env, tokens, tmp_path_factory.mktemp("deploy"))


@pytest.fixture
def fresh_stack(app_env_and_tokens, tmp_path) -> Iterator[Stack]:
    """A stack of its own, for a test that stops its instances."""
    env, tokens = app_env_and_tokens
    with ExitStack() as resources:
        yield start_stack(resources, env, tokens, tmp_path)


def test_requests_are_spread_over_both_instances(stack):
    sent = ids(20)

    replies = [stack.get(user=1, headers={"X-Correlation-Id": cid}) for cid in sent]

    assert [r.status for r in replies] == [200] * 20
    served = stack.served_by(sent)  # the app logs a request before answering it
    assert set(served) == {"a", "b"} and min(served.values()) >= 5, served
    for instance in stack.instances:
        pids = {e["pid"] for e in instance.request_log() if e["correlationId"] in sent}
        assert pids <= instance.worker_pids()
    assert eventually(lambda: all(stack.nginx_logged(cid) for cid in sent))
    upstreams = {e["upstream"] for cid in sent for e in stack.nginx_logged(cid)}
    assert upstreams == {f"127.0.0.1:{i.port}" for i in stack.instances}


def test_61st_request_in_a_minute_is_refused_whichever_instance_serves_it(stack):
    allowed = [stack.get(user=2) for _ in range(60)]

    assert [r.status for r in allowed] == [200] * 60
    # One budget in Redis: the count goes down by one whichever instance answered.
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in allowed]
    assert remaining == list(range(59, -1, -1))
    assert len({r.headers["X-Correlation-Id"] for r in allowed}) == 60
    assert stack.served_by([r.headers["X-Correlation-Id"] for r in allowed]).keys() == {"a", "b"}

    refused = []
    while len(refused) < 8 and len(_refusers(stack, refused)) < 2:
        refused.append(stack.get(user=2))
    assert [r.status for r in refused] == [429] * len(refused)
    assert _refusers(stack, refused) == {"a", "b"}
    for reply in refused:
        assert reply.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert 1 <= int(reply.headers["Retry-After"]) <= 60


def _refusers(stack: Stack, replies: list[Reply]) -> set[str]:
    return set(stack.served_by([r.headers["X-Correlation-Id"] for r in replies]))


def test_static_files_are_served_by_nginx_under_the_services_prefix(stack):
    css = (ROOT / "static" / "app.css").read_bytes()
    [vendor] = sorted((ROOT / "static" / "vendor").glob("*.js"))
    static = "/integrations/static"

    plain = stack.get(f"{static}/app.css")
    compressed = stack.get(f"{static}/app.css", headers={"Accept-Encoding": "gzip"})
    revalidated = stack.get(f"{static}/app.css", headers={"If-None-Match": plain.headers["ETag"]})
    versioned = stack.get(f"{static}/vendor/{vendor.name}")
    missing = stack.get(f"{static}/missing.css")

    assert plain.status == 200 and plain.body == css
    assert plain.headers["Content-Type"] == "text/css"
    for reply in (plain, compressed, revalidated, versioned, missing):  # nginx's own answers too
        assert reply.headers["Strict-Transport-Security"] == HSTS
    assert plain.headers["Cache-Control"] == "public, no-cache"
    assert plain.headers["ETag"] and plain.headers["Last-Modified"]
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Duration-Ms" not in plain.headers  # the app sets it on every response of its own
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed.body) == css
    assert revalidated.status == 304 and revalidated.body == b""
    assert versioned.status == 200 and versioned.body == vendor.read_bytes()
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert missing.status == 404 and missing.json() == NOT_FOUND
    assert missing.headers["Content-Type"] == "application/json"  # though the path says .css
    for instance in stack.instances:
        assert not [e for e in instance.request_log() if "/static" in e["path"]]
    assert not [path for path in stack.platform.paths() if "/static" in path]

    def served() -> list[dict[str, Any]]:
        return [e for e in stack.nginx.access_entries() if e["path"].startswith(static)]

    assert eventually(lambda: len(served()) == 5)  # nginx logs just after it answers
    assert {e["upstream"] for e in served()} == {""}


def test_the_page_links_only_assets_that_nginx_serves(stack):
    page = stack.get("/integrations", user=7)

    assert page.status == 200
    assets = re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js))"', page.body.decode())
    assert len(assets) == 3 and all(a.startswith("/integrations/static/") for a in assets)
    for asset in assets:
        reply = stack.get(asset)
        assert reply.status == 200 and "X-Duration-Ms" not in reply.headers


@pytest.mark.parametrize(
    "path",
    [
        "/integrations",
        "/integrations/",
        "/integrations/connect/reddit",
        "/api/integrations/status",
        "/api/integrations/callback/reddit",
        "/api/webhooks/tiktok",
    ],
)
def test_the_services_paths_go_to_gunicorn(stack, path):
    sent = str(uuid.uuid4())

    reply = stack.get(path, headers={"X-Correlation-Id": sent})

    assert "X-Duration-Ms" in reply.headers  # the app's own answer, whatever its status
    assert eventually(lambda: stack.app_saw(sent))
    assert path not in stack.platform.paths()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/dashboard",
        "/api/auth/session",
        "/api/auth/signin?callbackUrl=%2Fintegrations",
        "/_next/static/chunks/main.js",
        "/static/app.css",
        "/integrationsfoo",
        "/api/integrationsfoo",
        "/api/openapi.json",
    ],
)
def test_every_other_path_goes_to_the_nextjs_app(stack, path):
    sent = str(uuid.uuid4())

    reply = stack.get(path, headers={"X-Correlation-Id": sent})

    assert reply.status == 200 and reply.headers["Content-Type"] == "text/html; charset=utf-8"
    arrived = [a for a in stack.platform.requests if a.headers.get("x-correlation-id") == sent]
    assert [a.path for a in arrived] == [path]
    assert not stack.app_saw(sent)


def test_the_platform_gets_the_same_forwarded_headers_as_the_service(stack):
    sent = str(uuid.uuid4())

    stack.get(
        "/api/auth/session",
        headers={
            "X-Correlation-Id": sent,
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Host": "evil.example",
            "Forwarded": "for=203.0.113.9",
        },
        source="127.0.0.3",
    )

    [arrived] = [a for a in stack.platform.requests if a.headers.get("x-correlation-id") == sent]
    assert arrived.headers["x-forwarded-for"] == "127.0.0.3"
    assert arrived.headers["x-forwarded-proto"] == "https"
    assert arrived.headers["x-forwarded-host"] == f"127.0.0.1:{stack.nginx.port}"
    assert "forwarded" not in arrived.headers


def test_bodies_are_limited_for_the_service_but_not_to_its_size_for_the_platform(stack):
    body = b"x" * 200_000

    to_platform = stack.get("/api/upload", method="POST", body=body)
    to_service = stack.post_json(CONNECT, 5, body)

    assert to_platform.status == 200
    assert [a.body_bytes for a in stack.platform.requests if a.path == "/api/upload"] == [200_000]
    assert to_service.status == 413
    assert to_service.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_signed_out_page_sends_the_creator_to_nextauth_on_the_same_origin(stack):
    reply = stack.get("/integrations?connected=reddit")

    assert reply.status == 302
    target = urlsplit(reply.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == stack.origin()
    assert target.path == "/api/auth/signin"
    # NextAuth's redirect callback follows a callbackUrl on its own origin (NEXTAUTH_URL).
    assert parse_qs(target.query) == {"callbackUrl": [f"{stack.origin()}/integrations"]}


def test_operator_endpoints_are_not_the_services_on_the_public_origin(stack):
    paths = [
        "/metrics",
        "/livez",
        "/readyz",
        "/metrics?name[]=x",
        "//metrics",
        "/%6detrics",
        "/integrations/../metrics",
        "/api/integrations/%2e%2e/%2e%2e/livez",
        "/integrations/..%2freadyz",
    ]
    sent = ids(len(paths))

    pairs = zip(paths, sent, strict=True)
    replies = [stack.get(path, headers={"X-Correlation-Id": cid}) for path, cid in pairs]

    # They are the platform's paths on its origin: the stand-in answers them all.
    assert [r.status for r in replies] == [200] * len(paths)
    assert all("X-Duration-Ms" not in reply.headers for reply in replies)
    assert stack.served_by(sent) == Counter()


def test_the_backends_api_answers_on_the_internal_listener_only(stack):
    app = create_app(stack.settings)
    key = make_key(app, "scheduler", "integrations:read")
    with app.app_context():
        dispose_engines()
    path = "/api/platform/users/1/integrations"
    sent = ids(4)

    public = stack.get(path, headers={**bearer(key), "X-Correlation-Id": sent[0]})
    internal = stack.internal(path, headers={**bearer(key), "X-Correlation-Id": sent[1]})
    others = [
        stack.internal(URL, headers={"X-Correlation-Id": sent[2]}),
        stack.internal("/livez", headers={"X-Correlation-Id": sent[3]}),
    ]

    assert public.status == 404 and public.json()["error"]["code"] == "NOT_FOUND"
    assert public.headers["X-Correlation-Id"] == sent[0]
    assert internal.status == 200, internal.body
    [item] = internal.json()["data"]["integrations"]
    assert (item["accountId"], item["reason"]) == ("acct-1", None)
    assert item["reconnectUrl"] == f"{stack.origin()}/integrations#integration-{item['id']}"
    assert [reply.status for reply in others] == [404, 404]
    # Only the internal request reached a gunicorn (and the Next.js app saw none of them).
    assert eventually(lambda: sum(stack.served_by(sent).values()) == 1)
    assert stack.app_saw(sent[1]) and not stack.app_saw(sent[0])
    assert not [path for path in stack.platform.paths() if path.startswith("/api/platform")]


@pytest.mark.parametrize("index", [0, 1])
def test_each_instance_answers_monitoring_on_its_own_port(stack, index):
    sent = ids(3)

    live = stack.monitor(index, "/livez", headers={"X-Correlation-Id": sent[0]})
    ready = stack.monitor(index, "/readyz", headers={"X-Correlation-Id": sent[1]})
    metrics = stack.monitor(index, "/metrics", headers={"X-Correlation-Id": sent[2]})
    api = stack.monitor(index, URL)

    assert live.status == 200 and live.json() == {"status": "ok"}
    assert ready.status == 200
    assert ready.json()["checks"] == {"database": "ok", "rateLimitStorage": "ok"}
    assert metrics.status == 200
    assert b"integrations_http_request_duration_seconds" in metrics.body
    assert api.status == 404  # nothing but the three answers there
    name = stack.instances[index].name
    assert eventually(lambda: stack.served_by(sent) == Counter({name: 3}))


def test_client_correlation_id_comes_back_unchanged(stack):
    sent = str(uuid.uuid4())

    reply = stack.get(user=3, headers={"X-Correlation-Id": sent})

    assert reply.status == 200
    assert reply.headers["X-Correlation-Id"] == sent
    assert eventually(lambda: stack.app_saw(sent))
    assert eventually(lambda: stack.nginx_logged(sent))


@pytest.mark.parametrize("sent", [None, "not-a-uuid", "0" * 32])
def test_nginx_and_the_app_agree_on_an_id_made_for_the_request(stack, sent):
    headers = {} if sent is None else {"X-Correlation-Id": sent}

    reply = stack.get(user=3, headers=headers)

    made = reply.headers["X-Correlation-Id"]
    assert made != sent and uuid.UUID(made).version == 4 and str(uuid.UUID(made)) == made
    assert eventually(lambda: stack.app_saw(made))
    assert eventually(lambda: stack.nginx_logged(made))


def test_spoofed_x_forwarded_for_does_not_change_the_anonymous_rate_limit(stack):
    # From 127.0.0.3, so the identity nginx passes on differs from nginx's own 127.0.0.1.
    replies = [
        stack.get(headers={"X-Forwarded-For": f"203.0.113.{n}"}, source="127.0.0.3")
        for n in range(1, ANONYMOUS_LIMIT + 4)
    ]

    assert [r.status for r in replies] == [401] * ANONYMOUS_LIMIT + [429] * 3
    remaining = [r.headers["X-RateLimit-Remaining"] for r in replies[:ANONYMOUS_LIMIT]]
    assert remaining == [str(n) for n in range(ANONYMOUS_LIMIT - 1, -1, -1)]
    assert _limited_ips(stack) >= {"127.0.0.3"}
    assert not {ip for ip in _limited_ips(stack) if ip.startswith("203.0.113.")}


def test_gunicorn_drops_forwarding_headers_from_clients_other_than_the_proxy(stack):
    # Not in FORWARDED_ALLOW_IPS (loopback 127.0.0.1 and ::1 by default): not the proxy.
    instance = stack.instances[0]

    replies = [
        request(instance.port, URL, headers={"X-Forwarded-For": f"198.51.100.{n}"}, source=PEER)
        for n in range(1, ANONYMOUS_LIMIT + 3)
    ]

    assert [r.status for r in replies] == [401] * ANONYMOUS_LIMIT + [429] * 2
    assert PEER in _limited_ips(stack)
    assert not {ip for ip in _limited_ips(stack) if ip.startswith("198.51.100.")}


def _limited_ips(stack: Stack) -> set[str]:
    """Client addresses the limiter has counted anonymous requests under, from Redis."""
    assert TEST_REDIS_URL
    with redis.Redis.from_url(TEST_REDIS_URL) as client:
        keys = [k.decode() for k in client.scan_iter(match=f"*{stack.key_prefix}*ip:*")]
    return {key.split("ip:", 1)[1].split("/", 1)[0] for key in keys}


def test_forwarded_scheme_and_host_reach_the_app(stack):
    def connect(origin: str) -> Reply:
        return stack.post_json(CONNECT, 4, b"{}", Origin=origin)

    same_site = connect(stack.origin())
    plain_http = connect(stack.origin().replace("https://", "http://"))
    other_port = connect(f"https://127.0.0.1:{stack.nginx.http_port}")

    # Past the same-origin check (https and the port the client used): only the body is wrong.
    assert same_site.status == 400
    assert same_site.json()["error"]["code"] == "VALIDATION_ERROR"
    assert plain_http.status == 403 and other_port.status == 403
    assert same_site.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("host", [None, "evil.example"])
def test_plain_http_is_redirected_to_https_on_the_configured_host(stack, host):
    headers = {"Host": host} if host else {}

    reply = request(stack.nginx.http_port, f"{URL}?a=1", headers=headers)

    assert reply.status == 301
    # server_name, whatever Host the client sent: the tests keep the shipped name there.
    assert reply.headers["Location"] == f"https://platform.example.com{URL}?a=1"


# Requests nginx refuses itself (their headers end where the test adds a blank line), and the
# status it answers each with.
UNREADABLE = {
    "a duplicate Host": (b"GET /api/integrations/status HTTP/1.1\r\nHost: a\r\nHost: b\r\n", 400),
    "a malformed request line": (b"GET\r\n", 400),
    "a lowercase method": (b"get /api/integrations/status HTTP/1.1\r\nHost: a\r\n", 400),
    "no Host in HTTP/1.1": (b"GET /api/integrations/status HTTP/1.1\r\n", 400),
    "both Content-Length and chunked": (
        b"POST /api/integrations/status HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n",
        400,
    ),
    "a broken chunked body for the service": (
        b"POST /api/integrations/connect/onlyfans HTTP/1.1\r\nHost: a\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz",
        400,
    ),
    "a broken chunked body for the platform": (
        b"POST /api/upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz",
        400,
    ),
    "a request line past the header buffers": (
        b"GET /api/integrations/status?" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: a\r\n",
        414,
    ),
    "an unknown Transfer-Encoding": (
        b"POST /api/integrations/status HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n",
        501,
    ),
}
CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    414: ("URI_TOO_LONG", "Request URI too long"),
    501: ("NOT_IMPLEMENTED", "Not implemented"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_requests_nginx_cannot_read_get_its_answer_in_the_api_shape(stack, case):
    head, status = UNREADABLE[case]
    # The request's headers end here, unless the case sent its body already.
    data = head if head.endswith(b"zz") else head + b"Connection: close\r\n\r\n"

    reply = raw_request(stack.nginx.port, data, tls=stack.tls)

    code, message = CODES[status]
    assert reply.status == status
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"success": False, "error": {"code": code, "message": message}}
    assert uuid.UUID(reply.headers["X-Correlation-Id"]).version == 4
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Strict-Transport-Security"] == HSTS
    made = reply.headers["X-Correlation-Id"]
    assert eventually(lambda: stack.nginx_logged(made))  # the id nginx logged the request under
    assert not stack.app_saw(made)


def test_a_clients_id_comes_back_on_an_answer_nginx_makes_itself(stack):
    sent = str(uuid.uuid4())
    head, _ = UNREADABLE["an unknown Transfer-Encoding"]

    reply = raw_request(
        stack.nginx.port, head + f"X-Correlation-Id: {sent}\r\n\r\n".encode(), tls=stack.tls
    )

    assert reply.status == 501
    assert reply.headers["X-Correlation-Id"] == sent
    assert eventually(lambda: stack.nginx_logged(sent))


def test_plain_http_sent_to_the_tls_port_is_a_json_400(stack):
    reply = request(stack.nginx.port, URL)

    assert reply.status == 400
    assert reply.json()["error"] == {"code": "BAD_REQUEST", "message": "Bad request"}
    assert uuid.UUID(reply.headers["X-Correlation-Id"]).version == 4


def test_nginx_s_error_uris_are_not_for_clients(stack):
    reply = stack.get("/integrations/.errors/400")

    assert reply.status == 404 and reply.json() == NOT_FOUND


def test_large_cookies_pass_while_oversized_headers_and_bodies_stop_at_nginx(stack):
    sent = ids(3)

    big_cookie = stack.get(
        headers={**session_cookie(stack.tokens[5], padding=12_000), "X-Correlation-Id": sent[0]}
    )
    huge_header = stack.get(user=5, headers={"X-Filler": "x" * 20_000, "X-Correlation-Id": sent[1]})
    huge_body = stack.post_json(
        CONNECT, 5, b"{" + b" " * 100_000 + b"}", **{"X-Correlation-Id": sent[2]}
    )

    # Chunked NextAuth session cookies make Cookie headers this large; gunicorn takes them too.
    assert big_cookie.status == 200
    assert huge_header.status == 431
    assert huge_header.json()["error"]["code"] == "HEADERS_TOO_LARGE"
    assert huge_body.status == 413
    assert huge_body.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert huge_body.headers["X-Correlation-Id"] == sent[2]
    assert stack.served_by(sent).total() == 1  # nginx refused the other two itself


def test_sigterm_to_one_instance_during_traffic_loses_no_request(fresh_stack):
    first, second = fresh_stack.instances
    outcomes: list[int | str] = []
    stopping = threading.Event()

    def send(offset: int) -> None:
        user = offset
        while not stopping.is_set():
            try:
                outcomes.append(fresh_stack.get(user=USERS[user % len(USERS)]).status)
            except (OSError, http.client.HTTPException) as err:
                outcomes.append(repr(err))
            user += 4

    senders = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for sender in senders:
        sender.start()
    try:
        assert eventually(lambda: len(outcomes) >= 40, timeout=10)
        before = len(outcomes)
        exit_code = first.stop()  # SIGTERM; returns once the instance has exited
        stopped_after = len(outcomes)
        assert eventually(lambda: len(outcomes) >= stopped_after + 40, timeout=10)
    finally:
        stopping.set()
        for sender in senders:
            sender.join()

    assert exit_code == 0
    assert Counter(type(o) for o in outcomes) == {int: len(outcomes)}, Counter(outcomes)
    assert set(outcomes) <= {200, 429}, Counter(outcomes)
    assert before > 0 and stopped_after > before
    served = Counter(e["upstream"].split(", ")[-1] for e in fresh_stack.nginx.access_entries())
    assert served[f"127.0.0.1:{first.port}"] > 0 and served[f"127.0.0.1:{second.port}"] > 0


def test_nginx_answers_502_in_the_api_shape_when_no_instance_is_up(services, tmp_path):
    cert, key = make_certificate(tmp_path)
    ports = edge_ports((free_port(), free_port()), free_port())
    nginx = Nginx.start(tmp_path / "nginx", ports, (cert, key))
    try:
        reply = request(nginx.port, URL, tls=client_context(cert))
    finally:
        nginx.stop()

    assert reply.status == 502
    assert reply.json() == {
        "success": False,
        "error": {"code": "INTERNAL_ERROR", "message": "Service unavailable"},
    }
    assert reply.headers["Retry-After"] == "60"
    assert uuid.UUID(reply.headers["X-Correlation-Id"]).version == 4


def test_health_metrics_and_the_api_answer_while_slow_clients_hold_connections(stack):
    public = SlowHeaderClients(stack.nginx.port, SLOW_CLIENTS, tls=stack.tls)
    watching = [SlowHeaderClients(port, SLOW_CLIENTS) for port in stack.nginx.ports.monitoring]
    slow = [public, *watching]
    with ExitStack() as held:
        started = time.monotonic()
        for clients in slow:
            held.enter_context(clients)
        answers = []
        for _ in range(3):  # while the slow clients send line after line
            answers += _probe_everything(stack)
            time.sleep(2.5)
        still_open = [clients.still_open() for clients in slow]
        # nginx hangs up on each once its headers have taken client_header_timeout.
        closed = [c.wait_until_all_closed(HEADER_TIMEOUT + 5) for c in slow]
        held_for = time.monotonic() - started

    assert still_open == [SLOW_CLIENTS] * 3  # they held their connections throughout
    for what, status, took in answers:
        assert status == 200, what
        assert took < 1.0, f"{what} took {took:.2f} s"
    assert closed == [True] * 3 and held_for >= HEADER_TIMEOUT


def _probe_everything(stack: Stack) -> list[tuple[str, int, float]]:
    """(what, status, seconds) for each path monitoring uses and for the API."""
    probes = [
        (f"{path} on instance {index}", lambda i=index, p=path: stack.monitor(i, p))
        for index in (0, 1)
        for path in ("/livez", "/readyz", "/metrics")
    ]
    probes.append(("the status API", lambda: stack.get(user=8)))
    answers = []
    for what, probe in probes:
        started = time.monotonic()
        reply = probe()
        answers.append((what, reply.status, time.monotonic() - started))
    return answers
