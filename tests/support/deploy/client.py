"""One HTTP request per connection, every socket closed, traffic to 127.0.0.1 only."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from email.message import Message
from typing import Any

HOST = "127.0.0.1"


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    tls: ssl.SSLContext | None = None,
    source: str | None = None,
) -> Reply:
    """Send one request on a new connection (so nginx and gunicorn may pick any worker)."""
    source_address = (source, 0) if source else None
    conn: http.client.HTTPConnection
    if tls is None:
        conn = http.client.HTTPConnection(HOST, port, timeout=10, source_address=source_address)
    else:
        conn = http.client.HTTPSConnection(
            HOST, port, timeout=10, source_address=source_address, context=tls
        )
    try:
        conn.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def raw_request(port: int, data: bytes, tls: ssl.SSLContext | None = None) -> Reply:
    """Send these bytes as they are (a request no HTTP client would write) and read the answer."""
    sock = socket.create_connection((HOST, port), timeout=10)
    try:
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=HOST)
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Reply(response.status, response.headers, response.read())
    finally:
        sock.close()


def session_cookie(token: str, padding: int = 0) -> dict[str, str]:
    """The NextAuth database-session cookie, with an unrelated cookie of `padding` bytes."""
    cookie = f"__Secure-next-auth.session-token={token}"  # NextAuth on https
    if padding:
        cookie += "; ui-state=" + "x" * padding
    return {"Cookie": cookie}
