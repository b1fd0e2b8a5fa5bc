"""A threaded HTTP server on 127.0.0.1 (an ephemeral port by default) that shuts down cleanly."""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Serve = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout during a hang) is expected, not a stand-in bug.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    serve: Serve
    # HTTP/1.0: one request per connection, so no idle keep-alive thread delays shutdown.
    protocol_version = "HTTP/1.0"
    server_version = "ProviderStandIn/1.0"
    timeout = 5  # a client that connects and sends nothing must not hold shutdown for long

    def do_GET(self) -> None:
        type(self).serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the stand-in's `requests`."""


class LocalServer:
    """Serves on a daemon thread; stop() closes the socket and joins every thread."""

    def __init__(
        self, name: str, serve: Serve, port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        handler = type(f"{name}Handler", (_Handler,), {"serve": staticmethod(serve)})
        self._server = _Server(("127.0.0.1", port), handler)
        self._scheme = "http"
        if tls is not None:  # https, with this context's certificate
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"standin-{name}",
            daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads (block_on_close)
        self._thread.join()
