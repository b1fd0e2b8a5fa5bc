"""The app's provider clients: one per OAuth provider whose credentials are configured."""

from __future__ import annotations

import logging

from flask import Flask, current_app

from ..errors import ApiError
from ..metrics import CLIENT_REJECTED
from . import API_KEY, REGISTRY, ClientRejected, OAuthProvider, build


def invalid_provider(provider: str) -> ApiError:
    if provider in REGISTRY:
        return ApiError("INVALID_PROVIDER", f"{provider} is not available", 400)
    return ApiError("INVALID_PROVIDER", "Unknown provider", 400)


def init_app(app: Flask) -> None:
    def sleep(seconds: float) -> None:  # the app's one wait, looked up when it is needed
        app.extensions["sleep"](seconds)

    app.extensions["providers"] = build(
        app.config["PROVIDERS"],
        app.config["PROVIDER_TIMEOUT"],
        app.config["PROVIDER_RETRIES"],
        sleep,
    )


def configured() -> dict[str, OAuthProvider]:
    """Clients by provider name, for the OAuth providers this deployment offers."""
    return current_app.extensions["providers"]  # type: ignore[no-any-return]


def oauth_client(provider: str) -> OAuthProvider:
    """The configured client of an OAuth provider; INVALID_PROVIDER otherwise."""
    clients = configured()
    if provider not in clients:
        raise invalid_provider(provider)
    return clients[provider]


def connectable() -> list[str]:
    """The providers a creator can connect here, in the registry's order."""
    return [
        name
        for name, provider in REGISTRY.items()
        if provider.kind == API_KEY or name in configured()
    ]


def report_rejected_client(provider: str, err: ClientRejected, log: logging.Logger) -> None:
    """The provider refused our own client credentials: an operator's error, logged loudly
    and counted, which marks no creator's grant."""
    CLIENT_REJECTED.labels(provider).inc()
    prefix = REGISTRY[provider].settings_prefix
    log.error(
        "the provider refused this service's client credentials; no grant was marked",
        extra={
            "fields": {
                "provider": provider,
                "error": str(err),
                "settings": f"{prefix}_CLIENT_ID, {prefix}_CLIENT_SECRET",
            }
        },
    )
