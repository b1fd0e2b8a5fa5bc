"""The OAuth providers: one module each behind OAuthProvider, built from settings here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Account, OAuthProvider, ProviderSettings, TokenSet
from .errors import ProviderError, ProviderUnavailable, ReauthRequired
from .instagram import Instagram
from .outbound import ProviderHttp
from .reddit import Reddit
from .tiktok import TikTok

OAUTH_PROVIDERS: dict[str, type[Any]] = {"instagram": Instagram, "tiktok": TikTok, "reddit": Reddit}
API_KEY_PROVIDERS = ("onlyfans",)
ALL_PROVIDERS = (*OAUTH_PROVIDERS, *API_KEY_PROVIDERS)

__all__ = [
    "ALL_PROVIDERS",
    "API_KEY_PROVIDERS",
    "OAUTH_PROVIDERS",
    "Account",
    "OAuthProvider",
    "ProviderError",
    "ProviderUnavailable",
    "ReauthRequired",
    "TokenSet",
    "build",
]


def build(
    settings: Mapping[str, ProviderSettings], timeout: tuple[float, float], retries: int
) -> dict[str, OAuthProvider]:
    """One client per configured provider (those without credentials are left out)."""
    clients: dict[str, OAuthProvider] = {}
    for name, provider_settings in settings.items():
        http = ProviderHttp(name, provider_settings.user_agent, timeout=timeout, retries=retries)
        clients[name] = OAUTH_PROVIDERS[name](provider_settings, http)
    return clients
