"""Injected faults, consumed in the order they were added, per documented path."""

from __future__ import annotations

import socket
import struct
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Literal

from .wire import Response


@dataclass
class Fault:
    kind: Literal["fail", "hang", "reset"]
    remaining: int
    response: Response | None = None  # for "fail"
    seconds: float = 0.0  # for "hang"

    def describe(self) -> str:
        if self.response is not None:
            return f"fail {self.response.status}"
        return f"hang {self.seconds}s" if self.kind == "hang" else "reset"


class FaultQueue:
    """Faults per path; each serves `remaining` requests, then the next one takes over."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}

    def add(self, path: str, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        self._queues.setdefault(path, deque()).append(fault)

    def take(self, path: str) -> Fault | None:
        queue = self._queues.get(path)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining == 0:
            queue.popleft()
        return fault


def drop_connection(handler: BaseHTTPRequestHandler) -> None:
    """Close with an RST (linger 0) and no answer, as a dropped connection looks to clients."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
    except OSError:
        pass
