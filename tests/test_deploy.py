"""deploy/nginx.conf in front of two gunicorn instances sharing PostgreSQL and Redis.

Real processes on loopback ports: nginx (TLS) and two gunicorns, the config files as they
ship, the only changes being the deploy-specific lines of deploy/nginx.conf (ports, paths).
"""

from __future__ import annotations

import gzip
import http.client
import os
import ssl
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask_migrate import upgrade

from webapp import create_app
from webapp.extensions import db
from webapp.models import Integration, Session, User
from webapp.timeutil import utcnow

from .conftest import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    fresh_postgres_schema,
    service_env,
)
from .deploy_support.client import Reply, request, session_cookie
from .deploy_support.servers import (
    NGINX,
    ROOT,
    Gunicorn,
    Nginx,
    eventually,
    free_port,
    stop_all,
)
from .deploy_support.tls import client_context, make_certificate
from .support.requirements import require

URL = "/api/integrations/status"
CONNECT = "/api/integrations/connect/onlyfans"
USERS = range(1, 61)
ANONYMOUS_LIMIT = 5
PEER = "127.0.0.2"
NOT_FOUND = {"success": False, "error": {"code": "NOT_FOUND", "message": "Not found"}}


@dataclass
class Stack:
    """nginx in front of two gunicorn instances; requests go through nginx over TLS."""

    nginx: Nginx
    instances: tuple[Gunicorn, Gunicorn]
    tls: ssl.SSLContext
    tokens: dict[int, str]
    key_prefix: str

    def get(self, path: str = URL, user: int | None = None, **kwargs: Any) -> Reply:
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers = {**session_cookie(self.tokens[user]), **headers}
        return request(self.nginx.port, path, headers=headers, tls=self.tls, **kwargs)

    def post_json(self, path: str, user: int, body: bytes, **headers: str) -> Reply:
        headers = {"Content-Type": "application/json", **headers}
        return self.get(path, user, method="POST", headers=headers, body=body)

    def origin(self) -> str:
        return f"https://127.0.0.1:{self.nginx.port}"

    def served_by(self, correlation_ids: list[str]) -> Counter[str]:
        """How many of these requests each instance logged."""
        wanted = set(correlation_ids)
        return Counter(
            instance.name
            for instance in self.instances
            for entry in instance.request_log()
            if entry["correlationId"] in wanted
        )

    def app_saw(self, correlation_id: str) -> bool:
        return sum(self.served_by([correlation_id]).values()) > 0

    def nginx_logged(self, correlation_id: str) -> list[dict[str, Any]]:
        return [e for e in self.nginx.access_entries() if e["correlationId"] == correlation_id]


def ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


@pytest.fixture(scope="module")
def services() -> None:
    """PostgreSQL, Redis and nginx are here, or a skip naming what is missing (CI: a failure)."""
    require(
        "the deployment test",
        [
            ("TEST_DATABASE_URL", TEST_DATABASE_URL),
            ("TEST_REDIS_URL", TEST_REDIS_URL),
            (f"nginx at {NGINX}", os.access(NGINX, os.X_OK)),
        ],
    )


@pytest.fixture(scope="module")
def app_env(services) -> Iterator[tuple[dict[str, str], dict[int, str]]]:
    """A migrated PostgreSQL schema with users, integrations and database sessions."""
    assert TEST_DATABASE_URL and TEST_REDIS_URL
    with fresh_postgres_schema("deploy") as url:
        env = service_env(
            url,
            APP_ENV="production",
            RATELIMIT_STORAGE_URI=TEST_REDIS_URL,
            TRUSTED_PROXY_COUNT="1",
            ANONYMOUS_RATE_LIMIT=f"{ANONYMOUS_LIMIT} per minute",
        )
        yield env, seed(env)


def seed(env: dict[str, str]) -> dict[int, str]:
    """Migrate in-process, as the deploy step does; each user gets one integration and a session."""
    app = create_app(env)
    tokens = {user_id: str(uuid.uuid4()) for user_id in USERS}
    with app.app_context():
        upgrade()
        for user_id, token in tokens.items():
            db.session.add(User(id=user_id, name=f"User {user_id}"))
            db.session.flush()
            db.session.add(
                Integration(
                    user_id=user_id,
                    provider="reddit",
                    account_id=f"acct-{user_id}",
                    account_name=f"u/{user_id}",
                )
            )
            db.session.add(
                Session(user_id=user_id, session_token=token, expires=utcnow() + timedelta(days=1))
            )
        db.session.commit()
        db.engine.dispose()
    return tokens


def start_stack(
    resources: ExitStack, env: dict[str, str], tokens: dict[int, str], directory: Path
) -> Stack:
    """Both gunicorns booting at once, then nginx; everything stopped when resources close."""
    key_prefix = f"deploy-{uuid.uuid4().hex[:12]}"
    settings = {**env, "RATELIMIT_KEY_PREFIX": key_prefix}
    instances = (
        Gunicorn.start("a", settings, directory),
        Gunicorn.start("b", settings, directory),
    )
    resources.callback(stop_all, [instance.process for instance in instances])
    for instance in instances:
        instance.wait_until_serving()
    cert, key = make_certificate(directory)
    ports = (instances[0].port, instances[1].port)
    nginx = Nginx.start(directory / "nginx", ports, cert, key)
    resources.callback(nginx.stop)  # first: gunicorn then has no kept-alive connection to wait on
    return Stack(nginx, instances, client_context(cert), tokens, key_prefix)


@pytest.fixture(scope="module")
def stack(app_env, tmp_path_factory) -> Iterator[Stack]:
    env, tokens = app_env
    with ExitStack() as resources:
        yield start_stack(resources, env, tokens, tmp_path_factory.mktemp("deploy"))


@pytest.fixture
def fresh_stack(app_env, tmp_path) -> Iterator[Stack]:
    """A stack of its own, for a test that stops its instances."""
    env, tokens = app_env
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


def test_static_files_are_served_by_nginx_with_revalidation(stack):
    css = (ROOT / "static" / "app.css").read_bytes()
    [vendor] = sorted((ROOT / "static" / "vendor").glob("*.js"))

    plain = stack.get("/static/app.css")
    compressed = stack.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    revalidated = stack.get("/static/app.css", headers={"If-None-Match": plain.headers["ETag"]})
    versioned = stack.get(f"/static/vendor/{vendor.name}")
    missing = stack.get("/static/missing.css")

    assert plain.status == 200 and plain.body == css
    assert plain.headers["Content-Type"] == "text/css"
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
    for instance in stack.instances:
        assert not [e for e in instance.request_log() if e["path"].startswith("/static")]

    def static() -> list[dict[str, Any]]:
        return [e for e in stack.nginx.access_entries() if e["path"].startswith("/static/")]

    assert eventually(lambda: len(static()) == 5)  # nginx logs just after it answers
    assert {e["upstream"] for e in static()} == {""}


def test_operator_endpoints_answer_on_gunicorn_but_not_through_nginx(stack):
    paths = ["/metrics", "/livez", "/readyz", "/metrics?name[]=x", "//metrics", "/%6detrics"]
    sent = ids(len(paths))

    pairs = zip(paths, sent, strict=True)
    replies = [stack.get(path, headers={"X-Correlation-Id": cid}) for path, cid in pairs]

    for reply, correlation_id in zip(replies, sent, strict=True):
        assert reply.status == 404 and reply.json() == NOT_FOUND
        assert reply.headers["X-Correlation-Id"] == correlation_id
        assert "X-Duration-Ms" not in reply.headers
    assert stack.served_by(sent) == Counter()
    for instance in stack.instances:
        metrics = request(instance.port, "/metrics")
        ready = request(instance.port, "/readyz")
        assert metrics.status == 200
        assert b"integrations_http_request_duration_seconds" in metrics.body
        assert ready.status == 200
        assert ready.json()["checks"] == {"database": "ok", "rateLimitStorage": "ok"}


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


def test_plain_http_is_redirected_to_https(stack):
    reply = request(stack.nginx.http_port, f"{URL}?a=1")

    assert reply.status == 301
    assert reply.headers["Location"] == f"https://127.0.0.1{URL}?a=1"


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
    nginx = Nginx.start(tmp_path / "nginx", (free_port(), free_port()), cert, key)
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
