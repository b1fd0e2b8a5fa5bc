"""Edges of HTTP itself: chunked bodies over the limit, requests without Host, and a page
action the rate limit refuses; through the test client and a real gunicorn."""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade

from webapp import create_app
from webapp.database import dispose_engines
from webapp.extensions import db
from webapp.models import User

from ..support.app import jwt_cookie, service_env
from ..support.deploy.servers import Gunicorn

CONNECT = "/api/integrations/connect/onlyfans"
LIMIT = 1000  # MAX_BODY_BYTES of these apps
HX = {"HX-Request": "true"}
KEY = {"accountId": "of1", "accountName": "Fans", "apiKey": "of_live_0123456789abcdef"}
OVERSIZED = json.dumps({**KEY, "padding": "x" * 5000}).encode()


def chunked(body: bytes, size: int = 700) -> bytes:
    """The body in HTTP/1.1 chunked transfer coding."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


# Through the test client: the body as gunicorn hands it on, de-chunked, with no length ------


@pytest.fixture
def signed_in(make_app, add_user):
    app = make_app(NEXTAUTH_SESSION_STRATEGY="jwt", MAX_BODY_BYTES=str(LIMIT))
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", jwt_cookie("1"))
    return client


def post_chunked(client, body: bytes, content_type: str, path: str = CONNECT):
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
        environ_base={"wsgi.input_terminated": True},  # as gunicorn says of a chunked body
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", OVERSIZED),
        ("application/x-www-form-urlencoded", b"csrf_token=x&pad=" + b"x" * 5000),
        ("application/json", b"{" + b" " * LIMIT + b"}"),  # one byte over
    ],
)
def test_chunked_body_over_the_limit_is_413(signed_in, content_type, body):
    response = post_chunked(signed_in, body, content_type)

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_chunked_body_within_the_limit_is_read_whole(signed_in):
    exactly = json.dumps(KEY).encode().ljust(LIMIT - 1) + b" "

    response = post_chunked(signed_in, exactly, "application/json")

    assert len(exactly) == LIMIT
    assert response.status_code == 201
    assert response.get_json()["data"]["integration"]["accountId"] == "of1"


# A real gunicorn -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory) -> Iterator[Gunicorn]:
    directory = tmp_path_factory.mktemp("edges")
    env = service_env(
        f"sqlite:///{directory / 'app.db'}",
        NEXTAUTH_SESSION_STRATEGY="jwt",
        MAX_BODY_BYTES=str(LIMIT),
    )
    app = create_app(env)
    with app.app_context():
        upgrade()
        db.session.add(User(id=1, name="User 1"))
        db.session.commit()
        dispose_engines()
    server = Gunicorn.start("edges", env, Path(directory))
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()


def exchange(port: int, raw: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send raw bytes on a new connection; the status line, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, {k.lower(): v for k, v in headers.items()}, body


def chunked_post(port: int, body: bytes) -> tuple[str, dict[str, str], bytes]:
    return exchange(
        port,
        b"POST " + CONNECT.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Cookie: next-auth.session-token=" + jwt_cookie("1").encode() + b"\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body),
    )


def test_gunicorn_chunked_body_over_the_limit_is_413(gunicorn):
    status, headers, body = chunked_post(gunicorn.port, OVERSIZED)

    assert status == "HTTP/1.1 413 REQUEST ENTITY TOO LARGE"
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_gunicorn_chunked_body_within_the_limit_connects(gunicorn):
    status, _, body = chunked_post(gunicorn.port, json.dumps(KEY | {"accountId": "of2"}).encode())

    assert status == "HTTP/1.1 201 CREATED", body
    assert json.loads(body)["data"]["integration"]["accountId"] == "of2"


@pytest.mark.parametrize("path", ["/livez", "/api/integrations/status", "/integrations"])
def test_http_1_1_without_host_is_400_in_the_error_envelope(gunicorn, path):
    status, headers, body = exchange(
        gunicorn.port, f"GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n".encode()
    )

    assert status == "HTTP/1.1 400 BAD REQUEST"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "success": False,
        "error": {"code": "BAD_REQUEST", "message": "Bad request"},
        "duration": json.loads(body)["duration"],
    }
    assert headers["x-correlation-id"]


def test_http_1_0_needs_no_host_and_1_1_with_one_is_served(gunicorn):
    old, _, _ = exchange(gunicorn.port, b"GET /livez HTTP/1.0\r\n\r\n")
    hosted, _, _ = exchange(
        gunicorn.port, b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )

    assert (old, hosted) == ("HTTP/1.0 200 OK", "HTTP/1.1 200 OK")


# A page action refused by the rate limit ----------------------------------------------------


@pytest.fixture
def busy_creator(make_app, add_user, db_session_cookie):
    app = make_app(STATUS_RATE_LIMIT="2 per minute")
    add_user(
        1,
        [
            {
                "provider": "onlyfans",
                "account_id": f"of{n}",
                "account_name": "F",
                "api_key": "k" * 20,
            }
            for n in range(4)
        ],
    )
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    page = client.get("/integrations").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    for n in range(2):  # the disconnect action's budget, spent
        client.post(f"/integrations/onlyfans/of{n}/disconnect", data={"csrf_token": token})
    return client, token


def test_plain_form_refused_by_the_limit_lands_on_the_page_with_the_message(busy_creator):
    client, token = busy_creator

    refused = client.post("/integrations/onlyfans/of2/disconnect", data={"csrf_token": token})
    landed = client.get(refused.headers["Location"])

    assert refused.status_code == 303
    assert refused.headers["Location"] == "/integrations?error=rate_limited&provider=onlyfans"
    assert landed.status_code == 200
    assert "Too many requests. Please wait a moment and try again." in landed.get_data(as_text=True)


def test_plain_form_refused_when_the_page_is_limited_too_still_says_why(busy_creator):
    client, token = busy_creator
    client.get("/integrations")  # the page's budget, spent as well

    refused = client.post("/integrations/onlyfans/of2/disconnect", data={"csrf_token": token})
    landed = client.get(refused.headers["Location"])

    assert landed.status_code == 429
    assert "Too many requests. Please wait a moment and try again." in landed.get_data(as_text=True)


def test_htmx_action_refused_by_the_limit_shows_the_message_in_place(busy_creator):
    client, token = busy_creator

    refused = client.delete(
        "/integrations/onlyfans/of2/disconnect", headers={**HX, "X-CSRF-Token": token}
    )

    assert refused.status_code == 429
    assert (refused.headers["HX-Retarget"], refused.headers["HX-Reswap"]) == (
        "#messages",
        "innerHTML",
    )
    assert "Too many requests. Please wait a moment and try again." in refused.get_data(
        as_text=True
    )
    assert int(refused.headers["Retry-After"]) >= 1
