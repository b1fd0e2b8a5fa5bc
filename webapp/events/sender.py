"""One attempt at delivering an event: a POST to EVENTS_URL that ends by a deadline, whatever
the receiver does, and reads no more of its answer than its status needs.

`requests` bounds each read, not the exchange: a receiver sending its answer a byte a second
never times out there, and its whole body is read into memory. Here connecting, the TLS
handshake, sending and every read of the status line and headers wait only until one
deadline; at most MAX_ANSWER_BYTES of the answer are read, and never its body.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

MAX_ANSWER_BYTES = 64 * 1024  # the status line and headers of any sane answer
USER_AGENT = "creator-integrations-events/1.0"


class DeliveryFailed(Exception):
    """The attempt ended without a status; `reason` is what the event records as its error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST `body` to `url`: the answer's status, within `timeout` seconds or DeliveryFailed."""
    parts = urlsplit(url)
    connection = _Connection(parts, time.monotonic() + timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {"User-Agent": USER_AGENT, **headers, "Connection": "close"}
    try:
        connection.request("POST", target, body=body, headers=sent)
        return connection.getresponse().status  # its body is left unread, then closed
    except TimeoutError as err:
        connected = connection.sock is not None
        raise DeliveryFailed("ReadTimeout" if connected else "ConnectTimeout") from err
    except ssl.SSLError as err:
        raise DeliveryFailed("SSLError") from err
    except (OSError, http.client.HTTPException) as err:  # refused, reset, not HTTP
        raise DeliveryFailed("ConnectionError") from err
    finally:
        connection.close()


class _Connection(http.client.HTTPConnection):
    """http.client's request and answer parsing over a socket that gives up at the deadline."""

    def __init__(self, parts: SplitResult, deadline: float) -> None:
        tls = parts.scheme == "https"
        super().__init__(parts.hostname or "", parts.port or (443 if tls else 80))
        self._deadline = deadline
        # The system's trust store (SSL_CERT_FILE names another), with hostname checks.
        self._tls = ssl.create_default_context() if tls else None

    def connect(self) -> None:
        sock = _connected(self.host, self.port, self._deadline)
        if self._tls is not None:
            # The handshake is one call, bounded as a whole by the socket's timeout.
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        self.sock = _Bounded(sock, self._deadline)


def _connected(host: str, port: int, deadline: float) -> socket.socket:
    """A TCP connection to the first address that takes one before the deadline."""
    failed: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(_left(deadline))
            sock.connect(address)
            return sock
        except OSError as err:
            sock.close()
            failed = err
    raise failed


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("EVENTS_TIMEOUT_MS passed")
    return left


class _Bounded:
    """The socket as http.client uses it (sendall, makefile, close), each wait bounded by the
    time left before the deadline rather than by a fresh timeout per call."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: Any) -> None:
        self._sock.settimeout(_left(self._deadline))
        self._sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        assert mode == "rb"  # all that HTTPResponse asks for
        return io.BufferedReader(_Answer(self._sock, self._deadline))

    def close(self) -> None:
        self._sock.close()


class _Answer(io.RawIOBase):
    """The answer's bytes: each read waits only until the deadline, and they end (as a
    DeliveryFailed) after MAX_ANSWER_BYTES."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._read >= MAX_ANSWER_BYTES:
            raise DeliveryFailed("AnswerTooLarge")
        self._sock.settimeout(_left(self._deadline))
        view = memoryview(buffer)[: MAX_ANSWER_BYTES - self._read]
        count = self._sock.recv_into(view)
        self._read += count
        return count
