"""Outbound HTTP to providers: timeouts, and bounded retries that never send a token twice.

A loop of our own rather than urllib3's `Retry` mounted on the session, because `Retry`:
- decides status retries and read retries by one `allowed_methods`: letting it retry a token
  POST on 429 or 5xx also lets it resend that POST after a read timeout or a reset, when the
  provider may already have used the code or rotated the refresh token;
- logs each connection retry itself (WARNING on `urllib3.connectionpool`) with the path and
  query string, where Instagram's access token and client secret travel;
- sleeps through `time.sleep` and offers no hook for our one log line per retry without a
  subclass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from .errors import ProviderUnavailable

log = logging.getLogger("webapp.providers")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 5.0  # longer waits are the caller's to make (502 with Retry-After)
DEFAULT_RETRY_AFTER_S = 30  # what the caller is told when the provider named no wait
RESENDABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # safe to send twice


@dataclass(frozen=True, slots=True)
class _Failure:
    """One attempt that gave no answer worth returning, and whether to try again."""

    outcome: str  # "HTTP 503", "ReadTimeout", ...: never a URL, a query string or a token
    wait: float
    may_resend: bool
    retry_after: int | None = None


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

    def request(
        self, method: str, url: str, *, answered: frozenset[int] = frozenset(), **kwargs: Any
    ) -> requests.Response:
        """Send, retrying 429, 5xx and what never reached the provider; never returns those,
        except the statuses in `answered`, which the caller reads itself (no retry)."""
        retry_after = DEFAULT_RETRY_AFTER_S
        outcome_unknown = False
        for attempt in range(1, self.retries + 2):
            answer = self._attempt(method, url, attempt, answered, kwargs)
            if isinstance(answer, requests.Response):
                return answer
            retry_after = answer.retry_after or retry_after
            outcome_unknown = not answer.may_resend  # it went out, and no answer came back
            if not self._retry_or_give_up(url, answer, attempt):
                break
            self.sleep(answer.wait)
        raise ProviderUnavailable(
            f"{self.provider} is unavailable",
            retry_after=retry_after,
            outcome_unknown=outcome_unknown,
        )

    def _attempt(
        self,
        method: str,
        url: str,
        attempt: int,
        answered: frozenset[int],
        kwargs: dict[str, Any],
    ) -> requests.Response | _Failure:
        backoff = self.backoff * 2 ** (attempt - 1)
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as err:
            resend = method.upper() in RESENDABLE_METHODS or _never_sent(err)
            return _Failure(type(err).__name__, backoff, resend)
        if response.status_code not in RETRY_STATUSES or response.status_code in answered:
            return response
        after = _retry_after(response)
        wait = min(float(after or backoff), MAX_RETRY_AFTER_S)
        return _Failure(f"HTTP {response.status_code}", wait, True, after)

    def _retry_or_give_up(self, url: str, failure: _Failure, attempt: int) -> bool:
        """Whether to try again; one log line either way, with the URL's path only."""
        fields = {"provider": self.provider, "url": url.split("?")[0], "outcome": failure.outcome}
        if attempt > self.retries or not failure.may_resend:
            reason = "retries used up" if failure.may_resend else "may have reached the provider"
            log.warning(
                "provider unavailable",
                extra={"fields": {**fields, "attempts": attempt, "reason": reason}},
            )
            return False
        wait_ms = int(failure.wait * 1000)
        log.info(
            "provider call failed, retrying",
            extra={"fields": {**fields, "attempt": attempt, "waitMs": wait_ms}},
        )
        return True


def json_body(response: requests.Response) -> dict[str, Any]:
    """The JSON object a provider answered, or {} when it sent something else."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _never_sent(err: requests.RequestException) -> bool:
    """No connection was made (refused, unresolvable, connect timeout): nothing was sent."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    # requests wraps urllib3's MaxRetryError; its reason tells a failed connect from a reset
    # or a read timeout after the request went out.
    cause = err.args[0] if err.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _retry_after(response: requests.Response) -> int | None:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() else None
