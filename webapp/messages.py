"""What the page tells a creator: every message, and which one each error code shows."""

from __future__ import annotations

from .providers import REGISTRY

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
