"""Requests as received and responses as sent, in the small shapes the stand-ins need."""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


@dataclass
class RecordedRequest:
    """One request as a stand-in received it, for assertions about what the service sent."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]  # names in lower case: HTTP header names are case-insensitive
    body: bytes = b""
    status: int | None = None  # None until answered, and for ever after a reset
    fault: str | None = None  # the injected fault this request met, e.g. "fail 503"

    @classmethod
    def read(cls, handler: BaseHTTPRequestHandler) -> RecordedRequest:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        return cls(
            method=handler.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            form=parse_form(headers.get("content-type", ""), body),
            headers=headers,
            body=body,
        )

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) of an HTTP Basic Authorization header."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    @property
    def bearer(self) -> str | None:
        """The token of an Authorization header; the scheme is case-insensitive (RFC 6750)."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return value.strip() or None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def write(self, handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.send_response(self.status)
            for name, value in self.headers.items():
                handler.send_header(name, value)
            if self.status != 204:
                handler.send_header("Content-Length", str(len(self.body)))
            handler.end_headers()
            if self.body:
                handler.wfile.write(self.body)
        except (ConnectionError, TimeoutError):
            pass  # the client gave up waiting (a hang longer than its timeout)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def redirect_back(uri: str, params: dict[str, str], fragment: str = "") -> Response:
    """A 302 to `uri` with `params` added to the query it already has."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    location = urlunsplit(parts._replace(query=urlencode(query), fragment=fragment))
    return Response(302, b"", {"Location": location})


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """Fields of a urlencoded or multipart body (Instagram's own examples use curl -F)."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message: Any = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        return {
            str(part.get_param("name", header="content-disposition")): str(part.get_content())
            for part in message.iter_parts()
        }
    return {}
