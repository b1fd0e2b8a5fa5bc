"""What every OAuth provider module offers: settings, tokens, accounts, the Protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .outbound import ProviderHttp


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Client credentials and where the provider's documented URLs point."""

    client_id: str
    client_secret: str
    base_url: str | None  # replaces scheme and host of every documented URL (sandboxes, tests)
    user_agent: str
    api_version: str | None = None  # the pinned API version, for providers that version paths


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens as a provider returned them; lifetimes in seconds, always from the provider."""

    access_token: str
    refresh_token: str | None = None
    expires_in: int | None = None
    scope: str | None = None
    account_id: str | None = None
    refresh_expires_in: int | None = None  # the refresh token's lifetime, where it has one


@dataclass(frozen=True, slots=True)
class Grant:
    """What is stored of an authorization, as a refresh needs it."""

    access_token: str | None
    refresh_token: str | None
    expires_at: datetime | None
    refresh_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """What a provider's rate-limit headers said is left of this client's quota."""

    remaining: float | None = None
    reset_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    # Other ids the provider gave for the same account (Instagram has three); callbacks may
    # name it by any of them.
    aliases: tuple[str, ...] = ()


def oauth_tokens(body: dict[str, Any], account_id: str | None = None) -> TokenSet:
    """A standard OAuth 2.0 token response (RFC 6749, section 5.1) with an access token."""
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or None,
        expires_in=seconds(body.get("expires_in")),
        scope=body.get("scope"),
        account_id=account_id,
        refresh_expires_in=seconds(body.get("refresh_expires_in")),
    )


def seconds(value: object) -> int | None:
    """A lifetime in whole seconds, sent as a JSON number or a numeric string; None if absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return value if isinstance(value, int) and value >= 0 else None


class HttpProvider:
    """What the provider modules share: their settings, their HTTP client, their URLs."""

    def __init__(self, settings: ProviderSettings, http: ProviderHttp) -> None:
        self.settings = settings
        self.http = http

    def _url(self, documented: str) -> str:
        return url_for(documented, self.settings.base_url)


class OAuthProvider(Protocol):
    """One provider's OAuth 2.0 authorization code flow, refresh and revocation."""

    def authorization_url(self, state: str, redirect_uri: str) -> str:
        """Where to send the creator to approve access."""
        ...

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        """Trade an authorization code for tokens."""
        ...

    def fetch_account(self, tokens: TokenSet) -> Account:
        """The provider's id and display name of the account that approved."""
        ...

    def refresh(self, grant: Grant, now: datetime) -> TokenSet:
        """New tokens from the provider's refresh grant; ReauthRequired when it is dead."""
        ...

    def renewable(self, grant: Grant, now: datetime) -> bool:
        """Whether refresh() can renew this grant now (else only an identity call tells)."""
        ...

    def verify(self, access_token: str) -> Budget:
        """The cheapest authenticated call: ReauthRequired when the provider says it is dead."""
        ...

    def revoke(self, grant: Grant, now: datetime) -> None:
        """Revoke at the provider where it offers revocation (best effort)."""
        ...


def url_for(documented: str, base_url: str | None) -> str:
    """The documented URL, with scheme and host replaced by base_url when one is set."""
    if not base_url:
        return documented
    scheme_end = documented.index("://") + 3
    path_start = documented.index("/", scheme_end)
    return base_url.rstrip("/") + documented[path_start:]
