"""What the page tells a creator: every message, which one each error code shows, and the
words a card uses for its expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..integrations.status import (
    DEAD_REASONS,
    EXPIRED,
    REFRESH_FAILED,
    RENEWAL_INTERRUPTED,
    IntegrationStatus,
)
from ..providers import REGISTRY, display_name

MESSAGES = {
    "connected": ("success", "{provider} is connected."),
    "refreshed": ("success", "{provider} is reconnected."),
    "disconnected": ("success", "{provider} is disconnected."),
    "removed_at_request": (
        "success",
        "Your {provider} account was removed at your request, with its access.",
    ),
    "state_invalid": (
        "error",
        "That connection attempt expired or was already used. Please connect {provider} again.",
    ),
    "access_denied": ("error", "{provider} did not grant access. Nothing was changed."),
    "provider_error": ("error", "{provider} could not complete the connection. Please try again."),
    "provider_unavailable": (
        "error",
        "{provider} is not responding right now. Please try again in a few minutes.",
    ),
    "invalid_provider": ("error", "That provider is not available."),
    "not_found": ("error", "That account is no longer connected."),
    "integration_limit": (
        "error",
        "You have connected as many accounts as you can. Disconnect one to connect another.",
    ),
    "signed_out": ("error", "Your session has ended. Please sign in again."),
    "rate_limited": ("error", "Too many requests. Please wait a moment and try again."),
    "forbidden": ("error", "This request was refused. Please reload the page and try again."),
    "unavailable": ("error", "Something went wrong on our side. Please try again in a minute."),
}
# The API's error codes, as the page words them; anything else is "unavailable".
ERROR_KEYS = {
    "UNAUTHORIZED": "signed_out",
    "INVALID_USER_ID": "signed_out",
    "RATE_LIMIT_EXCEEDED": "rate_limited",
    "PROVIDER_UNAVAILABLE": "provider_unavailable",
    "INVALID_PROVIDER": "invalid_provider",
    "NOT_FOUND": "not_found",
    "INTEGRATION_LIMIT_REACHED": "integration_limit",
    "FORBIDDEN": "forbidden",
}


def key_for(code: str) -> str:
    """The message key an error code shows on the page."""
    return ERROR_KEYS.get(code, "unavailable")


def message(key: str, provider: str | None = None) -> dict[str, str] | None:
    """A known message, filled with a provider's display name; None for unknown keys."""
    if key not in MESSAGES:
        return None
    kind, text = MESSAGES[key]
    known = REGISTRY.get(provider or "")
    name = known.display_name if known else "The provider"
    return {"kind": kind, "text": text.format(provider=name), "key": key}


# A working card names the day its refresh token ends (TikTok's, 180 days) from this close on.
RENEW_NOTICE = timedelta(days=14)
# English whatever the process locale, as the rest of the page is.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def relative_expiry(expires_at: datetime | None, now: datetime) -> str:
    """A working card's `expires in 12 days` or `no expiry` (an expired card says why instead)."""
    if expires_at is None:
        return "no expiry"
    return f"expires in {_span(max((expires_at - now).total_seconds(), 0))}"


def renew_before(item: IntegrationStatus, now: datetime) -> str | None:
    """`Reconnect before 3 Dec` on a working card whose refresh token ends within RENEW_NOTICE:
    after that day no refresh renews it; None otherwise."""
    if item.renew_by is None or item.renew_by - now > RENEW_NOTICE:
        return None
    return f"Reconnect before {short_date(item.renew_by, now)}"


def shown_time(item: IntegrationStatus, now: datetime) -> datetime | None:
    """The exact time a card's words speak of, for its tooltip: when its refresh token ends if
    they name that, else its expiry."""
    speaks_of_renewal = (
        _refresh_ran_out(item, now) if item.status == "expired" else renew_before(item, now)
    )
    return item.renew_by if speaks_of_renewal else item.expires_at


def _refresh_ran_out(item: IntegrationStatus, now: datetime) -> bool:
    """Expired because its refresh token ended (no refresh could renew it past that)."""
    return item.reason == EXPIRED and item.renew_by is not None and item.renew_by <= now


def _span(seconds: float) -> str:
    for unit, size, until in (("minute", 60, 60), ("hour", 3600, 48), ("day", 86400, None)):
        count = int(seconds // size)
        if seconds < 60:
            return "less than a minute"
        if until is None or count < until:
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("unreachable")


def expired_why(item: IntegrationStatus, now: datetime) -> str:
    """Why an expired card needs its creator, in the words the card shows."""
    if item.reason == RENEWAL_INTERRUPTED:  # a lost rotation, not the creator's doing
        return "Renewal was interrupted: reconnect needed"
    if item.reason in DEAD_REASONS:
        return f"Access was removed on {display_name(item.provider)}"
    if item.reason == REFRESH_FAILED:
        tries = item.failed_refreshes
        return f"Couldn't be renewed after {tries} {'try' if tries == 1 else 'tries'}"
    if item.renew_by is not None and _refresh_ran_out(item, now):
        return f"Expired on {short_date(item.renew_by, now)}"
    if item.expires_at is not None and item.expires_at <= now:
        return f"Expired on {short_date(item.expires_at, now)}"
    return "Needs to be reconnected"  # the provider ended the grant before its expiry


def short_date(moment: datetime, now: datetime) -> str:
    """`3 Nov`, with the year when it is not this year's: `3 Nov 2025` (UTC)."""
    moment, now = moment.astimezone(UTC), now.astimezone(UTC)
    day = f"{moment.day} {MONTHS[moment.month - 1]}"
    return day if moment.year == now.year else f"{day} {moment.year}"
