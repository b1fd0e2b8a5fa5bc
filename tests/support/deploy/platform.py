"""A stand-in for the Next.js app behind nginx: answers every request and records what arrived.

The deployment test only needs to see which requests nginx sends to the platform and with
which headers; tests/deploy/test_platform_e2e.py runs the real Next.js app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .client import HOST

BODY = b"<!doctype html><title>Creator platform</title>"


@dataclass(frozen=True)
class Arrived:
    method: str
    path: str
    headers: dict[str, str]
    body_bytes: int


class PlatformStandIn:
    """An HTTP/1.1 server on a loopback port; `requests` lists what reached it."""

    def __init__(self) -> None:
        self.requests: list[Arrived] = []
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PlatformStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def paths(self) -> list[str]:
        return [arrived.path for arrived in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        record = self.requests.append

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # nginx keeps its upstream connections alive

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                record(Arrived(self.command, self.path, headers, length))
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)

            do_GET = do_POST = do_DELETE = do_OPTIONS = _answer

            def log_message(self, *args: Any) -> None:
                pass  # nginx's access log and `requests` say what arrived

        return Handler
