"""Clients that trickle a request's headers, one line every few seconds, and never end them."""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time

from .client import HOST


class SlowHeaderClients:
    """`count` connections to a port, each sending a header line every `pace` seconds."""

    def __init__(
        self, port: int, count: int, tls: ssl.SSLContext | None = None, pace: float = 2.0
    ) -> None:
        self.port, self.count, self.tls, self.pace = port, count, tls, pace
        self._open: list[socket.socket] = []
        self._closed: list[socket.socket] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> SlowHeaderClients:
        for _ in range(self.count):
            self._open.append(self._connect())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self._open + self._closed:
            sock.close()

    def still_open(self) -> int:
        """How many the server has not hung up on yet."""
        self._reap()
        with self._lock:
            return len(self._open)

    def wait_until_all_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.still_open() and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.still_open() == 0

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=5)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname=HOST)
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n")
        return sock

    def _trickle(self) -> None:
        line = 0
        while not self._stop.wait(self.pace):
            line += 1
            with self._lock:
                for sock in list(self._open):
                    try:
                        sock.sendall(f"X-Slow-{line}: {'x' * 20}\r\n".encode())
                    except OSError:
                        self._hung_up(sock)

    def _reap(self) -> None:
        """A socket turns readable when the server hangs up (or answers, and then hangs up)."""
        with self._lock:
            readable, _, _ = select.select(self._open, [], [], 0) if self._open else ([], [], [])
            for sock in readable:
                sock.setblocking(False)
                try:
                    sock.recv(4096)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue  # a TLS record with no data for us, such as a session ticket
                except OSError:
                    pass
                finally:
                    sock.settimeout(5)
                self._hung_up(sock)

    def _hung_up(self, sock: socket.socket) -> None:
        self._open.remove(sock)
        self._closed.append(sock)
