"""What the tests of `verify` share: the identity call each provider gets, running the command,
and creators connected long enough ago to be checked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from .app import connect_via_oauth
from .grants import set_ago

PROVIDERS = ["tiktok", "reddit", "instagram"]
# The cheapest identity call of each provider, and its documented dead-token answer.
IDENTITY = {
    "tiktok": ("/v2/user/info/", "access_token_invalid"),
    "reddit": ("/api/v1/me", "invalid_token"),
    "instagram": ("/me", "oauth_190"),
}


def recorded_waits(app: Flask) -> list[float]:
    """The waits `verify` will ask for, in seconds: recorded, never slept."""
    recorded: list[float] = []
    app.extensions["sleep"] = recorded.append
    return recorded


def run_verify(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["integrations", "verify", *args])
    assert result.exit_code == 0, result.output
    return str(result.output).strip()


def connected(
    signed_in_client: FlaskClient,
    standins: Any,
    provider_app: Flask,
    *providers: str,
    ago: timedelta = timedelta(days=2),
) -> None:
    """Connect through OAuth, last confirmed by the provider `ago`; the stand-ins' logs cleared."""
    for provider in providers:
        connect_via_oauth(signed_in_client, provider)
        set_ago(provider_app, provider, "verified_at", ago)
        standins[provider].clear_requests()


def two_creators_connected(
    signed_in_client: FlaskClient,
    standins: Any,
    provider_app: Flask,
    add_user: Any,
    db_session_cookie: Any,
    provider: str,
) -> FlaskClient:
    """User 1 and user 2 each connect `provider`, unconfirmed for two days; user 2's client."""
    connect_via_oauth(signed_in_client, provider)
    add_user(2)
    second = provider_app.test_client()
    second.set_cookie("next-auth.session-token", db_session_cookie(2))
    connect_via_oauth(second, provider)
    set_ago(provider_app, provider, "verified_at", timedelta(days=2))
    standins[provider].clear_requests()
    return second


def identity_calls(standins: Any, provider: str) -> list[Any]:
    return list(standins[provider].requests_to(IDENTITY[provider][0]))
