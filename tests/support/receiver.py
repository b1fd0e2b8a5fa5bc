"""The platform's end of the events: a loopback HTTP server that verifies every delivery with
the `standardwebhooks` package, records it, and can be told to fail as real receivers do.

with EventReceiver(secret) as receiver:
    app = make_app(EVENTS_URL=receiver.url, EVENTS_SECRET=secret)
    receiver.answer_next(500); receiver.go_down(); receiver.come_back()
    receiver.trickle_next("headers"); receiver.huge_next(400 * 2**20)
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Self

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.standins.server import LocalServer
from tests.standins.wire import RecordedRequest, Response


@dataclass
class Delivery:
    """One request as the receiver saw it, and what it answered."""

    request: RecordedRequest
    started: float  # time.monotonic() when it arrived
    ended: float | None = None  # when the answer was sent (None: never, e.g. slow)
    answered: int | str | None = None  # the status sent, or "slow"
    verified: bool = False
    sent_bytes: int = 0  # of a trickled or huge answer, before it ended or the sender hung up
    hung_up: float | None = None  # when the sender closed the connection mid-answer

    @property
    def webhook_id(self) -> str:
        return self.request.headers.get("webhook-id", "")

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.request.body)  # type: ignore[no-any-return]


@dataclass
class _Fault:
    status: int | None  # None: slow
    headers: dict[str, str]
    seconds: float = 0.0
    raw: Callable[[], Iterator[tuple[bytes, float]]] | None = None  # (bytes, wait after them)


# A 200 whose status line and headers never end, sent a byte at a time; and a 200's headers.
_ENDLESS_HEADERS = b"HTTP/1.1 200 OK\r\nX-Trickle: " + b"." * 100_000
_BODY_FOLLOWS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"


class EventReceiver:
    """Answers 204 to every verified delivery unless told otherwise; 400 to a bad signature."""

    def __init__(
        self, secret: str, path: str = "/events", tls: ssl.SSLContext | None = None
    ) -> None:
        self.webhook = Webhook(secret)
        self.path = path
        self.tls = tls  # https with this context's certificate; None: http
        self.hold_s = 0.0  # how long each delivery takes before it is answered
        self.together = 1  # answer none until this many are in flight at once (30 s at most)
        self.most_at_once = 0
        self._lock = threading.Condition()
        self._in_flight = 0
        self._deliveries: list[Delivery] = []
        self._faults: deque[_Fault] = deque()
        self._stopping = threading.Event()
        self._server: LocalServer | None = None
        self._port = 0

    def start(self) -> None:
        self._stopping.clear()
        self._server = LocalServer("EventReceiver", self._serve, self._port, self.tls)
        self._port = int(self._server.base_url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()  # wakes a slow answer, so stopping never waits it out
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._port}{self.path}"

    # Test controls -------------------------------------------------------------------------

    def go_down(self) -> None:
        """Stop listening: every connection is refused until come_back()."""
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port."""
        self.start()

    def answer_next(
        self, status: int, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next `times` deliveries with `status`, whatever they are."""
        with self._lock:
            self._faults.extend(_Fault(status, headers or {}) for _ in range(times))

    def trickle_next(self, part: str, every: float = 1.0) -> None:
        """Answer the next delivery one byte each `every` seconds: a 200 whose headers never
        end ("headers"), or a 200 whose headers come at once and whose body trickles ("body")."""

        def trickle() -> Iterator[tuple[bytes, float]]:
            if part == "body":
                yield _BODY_FOLLOWS % 3600, 0.0
            for byte in _ENDLESS_HEADERS if part == "headers" else b"x" * 3600:
                yield bytes([byte]), every

        with self._lock:
            self._faults.append(_Fault(None, {}, raw=trickle))

    def huge_next(self, size: int) -> None:
        """Answer the next delivery 200 with a body of `size` bytes, as fast as it is read."""

        def huge() -> Iterator[tuple[bytes, float]]:
            yield _BODY_FOLLOWS % size, 0.0
            chunk = b"x" * 2**20
            for sent in range(0, size, len(chunk)):
                yield chunk[: size - sent], 0.0

        with self._lock:
            self._faults.append(_Fault(None, {}, raw=huge))

    def slow_next(self, seconds: float, times: int = 1) -> None:
        """Wait `seconds` before answering the next deliveries (past the sender's timeout)."""
        with self._lock:
            self._faults.extend(_Fault(None, {}, seconds) for _ in range(times))

    @property
    def deliveries(self) -> list[Delivery]:
        """Every request received so far, oldest first, whatever it was answered."""
        with self._lock:
            return list(self._deliveries)

    @property
    def accepted(self) -> list[Delivery]:
        """Deliveries verified and answered 2xx: the events the platform has."""
        return [d for d in self.deliveries if isinstance(d.answered, int) and d.answered < 300]

    @property
    def unverified(self) -> list[Delivery]:
        """Requests whose signature did not verify: a test fails unless this stays empty."""
        return [d for d in self.deliveries if not d.verified]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        """The accepted deliveries once there are `count` of them (or when time is up)."""
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.accepted

    # Request handling ----------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        delivery = Delivery(RecordedRequest.read(handler), started=time.monotonic())
        with self._lock:
            self._deliveries.append(delivery)
            fault = self._faults.popleft() if self._faults else None
            self._in_flight += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)
            self._lock.notify_all()
            self._lock.wait_for(lambda: self.most_at_once >= self.together, timeout=30)
        try:
            self._reply(handler, delivery, fault)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _reply(
        self, handler: BaseHTTPRequestHandler, delivery: Delivery, fault: _Fault | None
    ) -> None:
        delivery.verified = self._verifies(delivery.request)
        if delivery.verified and fault is not None and fault.raw is not None:
            self._send_raw(handler, delivery, fault.raw)
            return
        response = self._answer(delivery, fault)
        if response is None:
            delivery.answered = "slow"
            return
        if self._stopping.wait(self.hold_s):
            return
        delivery.answered = response.status
        response.write(handler)
        delivery.ended = time.monotonic()

    def _send_raw(
        self,
        handler: BaseHTTPRequestHandler,
        delivery: Delivery,
        answer: Callable[[], Iterator[tuple[bytes, float]]],
    ) -> None:
        delivery.answered = "raw"
        try:
            for data, wait in answer():
                handler.wfile.write(data)
                delivery.sent_bytes += len(data)
                if wait and self._closed_within(handler.connection, wait):
                    delivery.hung_up = time.monotonic()
                    return
                if self._stopping.is_set():
                    return
        except OSError:  # the sender closed the connection: what a bounded client does
            delivery.hung_up = time.monotonic()
            return
        delivery.ended = time.monotonic()

    def _closed_within(self, connection: socket.socket, seconds: float) -> bool:
        """Whether the sender closes the connection within `seconds` (seen at once, not at
        the next write); False as soon as the receiver stops."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self._stopping.is_set():
            readable, _, _ = select.select([connection], [], [], min(left, 0.05))
            if readable:
                try:
                    if not connection.recv(65536):
                        return True
                except OSError:
                    return True
        return False

    def _verifies(self, request: RecordedRequest) -> bool:
        try:
            self.webhook.verify(request.body, request.headers)
        except WebhookVerificationError:
            return False
        return request.method == "POST" and request.path == self.path

    def _answer(self, delivery: Delivery, fault: _Fault | None) -> Response | None:
        if not delivery.verified:
            return Response(400, b"bad signature")
        if fault is None:
            return Response(204)
        if fault.status is None:
            self._stopping.wait(fault.seconds)
            return None
        return Response(fault.status, b"", fault.headers)
