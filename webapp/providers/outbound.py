"""Outbound HTTP to providers: timeouts, and bounded retries with backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from .errors import ProviderUnavailable

log = logging.getLogger("webapp.providers")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 5.0  # longer waits are the caller's to make (502 with Retry-After)


class ProviderHttp:
    """A pooled session whose calls give up after a bounded number of attempts."""

    def __init__(
        self,
        provider: str,
        user_agent: str,
        *,
        timeout: tuple[float, float] = (2.0, 5.0),
        retries: int = 2,
        backoff: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Accept"] = "application/json"

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send, retrying connection errors, timeouts, 429 and 5xx; never returns those."""
        retry_after = 30
        for attempt in range(self.retries + 1):
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as err:
                outcome, wait = type(err).__name__, self.backoff * 2**attempt
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                retry_after = _retry_after(response) or retry_after
                outcome = f"HTTP {response.status_code}"
                wait = min(
                    float(_retry_after(response) or self.backoff * 2**attempt), MAX_RETRY_AFTER_S
                )
            path = url.split("?")[0]
            if attempt == self.retries:
                log.warning(
                    "provider unavailable",
                    extra={
                        "fields": {
                            "provider": self.provider,
                            "url": path,
                            "outcome": outcome,
                            "attempts": attempt + 1,
                        }
                    },
                )
                break
            log.info(
                "provider call failed, retrying",
                extra={
                    "fields": {
                        "provider": self.provider,
                        "url": path,
                        "outcome": outcome,
                        "attempt": attempt + 1,
                        "waitMs": int(wait * 1000),
                    }
                },
            )
            self.sleep(wait)
        raise ProviderUnavailable(f"{self.provider} is unavailable", retry_after=retry_after)


def json_body(response: requests.Response) -> dict[str, Any]:
    """The JSON object a provider answered, or {} when it sent something else."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: requests.Response) -> int | None:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() else None
