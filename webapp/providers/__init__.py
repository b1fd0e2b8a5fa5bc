"""The providers: one registry entry holds each provider's facts; everything else asks here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from .base import Account, Budget, Grant, OAuthProvider, ProviderSettings, TokenSet
from .errors import ClientRejected, ProviderError, ProviderUnavailable, ReauthRequired
from .instagram import Instagram
from .outbound import ProviderHttp
from .reddit import Reddit
from .tiktok import TikTok

OAUTH = "oauth"
API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Provider:
    """What the service knows of one provider, in one place."""

    name: str
    display_name: str
    kind: str  # OAUTH (connected through the provider's sign-in) or API_KEY (a pasted key)
    settings_prefix: str  # <PREFIX>_CLIENT_ID, <PREFIX>_CLIENT_SECRET, <PREFIX>_BASE_URL...
    # How long before expiry `refresh-due` renews its tokens, from their documented lifetimes.
    refresh_window: timedelta | None = None
    client_class: Callable[[ProviderSettings, ProviderHttp], OAuthProvider] | None = None
    # A token handed to the platform's backends has at least this much life left.
    token_margin: timedelta = timedelta(minutes=5)
    # How old a token must be before the provider renews it (younger ones are left as they are).
    refresh_min_age: timedelta | None = None
    # The API version the calls name unless <PREFIX>_GRAPH_VERSION pins another.
    api_version: str | None = None
    # The provider's API rules require a User-Agent naming the developer's own account.
    agent_names_account: bool = False


# Instagram's 60-day tokens a week ahead; TikTok's 2-hour and Reddit's 1-hour tokens a few
# cron runs ahead (Nango refreshes 15 minutes ahead). OnlyFans keys do not expire.
# Instagram refreshes only a token "at least 24 hours old" (its Refresh Access Token reference);
# v26.0 is the newest Graph API version (Graph API changelog, released 29 July 2026; Meta's
# Me reference shows graph.instagram.com/v26.0/me).
# Reddit's API rules: a User-Agent "<platform>:<app ID>:<version> (by /u/<reddit username>)".
REGISTRY: Mapping[str, Provider] = {
    provider.name: provider
    for provider in (
        Provider(
            "instagram",
            "Instagram",
            OAUTH,
            "INSTAGRAM",
            timedelta(days=7),
            Instagram,
            refresh_min_age=timedelta(hours=24),
            api_version="v26.0",
        ),
        Provider("tiktok", "TikTok", OAUTH, "TIKTOK", timedelta(minutes=30), TikTok),
        Provider(
            "reddit",
            "Reddit",
            OAUTH,
            "REDDIT",
            timedelta(minutes=15),
            Reddit,
            agent_names_account=True,
        ),
        Provider("onlyfans", "OnlyFans", API_KEY, "ONLYFANS"),
    )
}
ALL_PROVIDERS = tuple(REGISTRY)
OAUTH_PROVIDERS = tuple(name for name, provider in REGISTRY.items() if provider.kind == OAUTH)

__all__ = [
    "ALL_PROVIDERS",
    "API_KEY",
    "OAUTH",
    "OAUTH_PROVIDERS",
    "REGISTRY",
    "Account",
    "Budget",
    "ClientRejected",
    "Grant",
    "OAuthProvider",
    "Provider",
    "ProviderError",
    "ProviderSettings",
    "ProviderUnavailable",
    "ReauthRequired",
    "TokenSet",
    "build",
    "display_name",
]


def display_name(name: str) -> str:
    """How the page names a provider; an unknown name stays as given."""
    provider = REGISTRY.get(name)
    return provider.display_name if provider else name


def build(
    settings: Mapping[str, ProviderSettings],
    timeout: tuple[float, float],
    retries: int,
    sleep: Callable[[float], None],
) -> dict[str, OAuthProvider]:
    """One client per configured OAuth provider (those without credentials are left out)."""
    clients: dict[str, OAuthProvider] = {}
    for name, provider_settings in settings.items():
        client_class = REGISTRY[name].client_class
        assert client_class is not None, f"{name} has no OAuth client"
        http = ProviderHttp(
            name, provider_settings.user_agent, timeout=timeout, retries=retries, sleep=sleep
        )
        clients[name] = client_class(provider_settings, http)
    return clients
