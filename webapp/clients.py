"""The app's provider clients: one per OAuth provider whose credentials are configured."""

from __future__ import annotations

from flask import Flask, current_app

from . import providers
from .errors import invalid_provider
from .providers import OAuthProvider


def init_app(app: Flask) -> None:
    app.extensions["providers"] = providers.build(
        app.config["PROVIDERS"], app.config["PROVIDER_TIMEOUT"], app.config["PROVIDER_RETRIES"]
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
        for name, provider in providers.REGISTRY.items()
        if provider.kind == providers.API_KEY or name in configured()
    ]
