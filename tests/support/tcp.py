"""A loopback TCP stand-in for a server (PostgreSQL, Redis): stay silent, hang up, or forward."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit


class TcpStandIn:
    """A loopback TCP server in a real server's place: stay silent, hang up, or forward to it."""

    def __init__(self, mode: str, upstream: tuple[str, int] | None = None) -> None:
        self.mode = mode
        self.upstream = upstream
        self.accepted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._live: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self._threads[0].start()

    def switch(self, mode: str) -> None:
        """Change what new connections get; leaving "forward" also cuts the ones in flight."""
        with self._lock:
            self.mode = mode
            if mode != "forward":
                for sock in self._live:
                    _shutdown(sock)
                self._live.clear()

    def wait_for_accepted(self, count: int, timeout: float = 5.0) -> int:
        deadline = time.monotonic() + timeout
        while self.accepted < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.accepted

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            for sock in self._sockets:
                _shutdown(sock)
        for thread in self._threads:
            thread.join(timeout=5)
        for sock in self._sockets:
            sock.close()
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.accepted += 1
                self._sockets.append(client)
                mode = self.mode
            if mode == "hang_up":
                _shutdown(client)
            elif mode == "forward":
                self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        assert self.upstream is not None
        server = socket.create_connection(self.upstream, timeout=5)
        server.settimeout(None)
        with self._lock:
            self._sockets.append(server)
            self._live += [client, server]
        for source, target in ((client, server), (server, client)):
            thread = threading.Thread(target=_pump, args=(source, target), daemon=True)
            self._threads.append(thread)
            thread.start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    _shutdown(source)
    _shutdown(target)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def at_port(url: str, port: int) -> str:
    """The same database URL (credentials, database, options) on another loopback port."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}" if credentials else host))
