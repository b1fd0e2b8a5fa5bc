"""Reads and validates the environment once, failing fast with the setting's name."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import parse_many

from .providers import OAUTH, REGISTRY, Provider, ProviderSettings

DB_FAULT_BUDGET_S = 1.8  # leaves room for the rest of the request within the contract's 2 s
# Reddit throttles generic agents; its format is <platform>:<app id>:<version> (by /u/<user>).
DEFAULT_USER_AGENT = "web:creator-integrations:1.0 (by /u/creator-platform)"
# Reddit's API rules: the agent names the account responsible (usernames: 3-20 letters,
# digits, _ or -). In production the default, which names no account of yours, is refused.
NAMED_ACCOUNT = re.compile(r".*\(by /?u/[A-Za-z0-9_-]{3,20}\)\s*")
API_VERSION = re.compile(r"v\d{1,3}\.\d{1,2}")
APP_ENVS = ("production", "development", "test")
SESSION_STRATEGIES = ("database", "jwt")
RATELIMIT_STRATEGIES = ("fixed-window", "moving-window", "sliding-window-counter")
READS = "reads"  # the engine of the request path's reads
RATELIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


def load_settings(environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
    """Turn environment variables into typed Flask config values."""
    settings = _read(environ, instance_path)
    attempts = len(settings["DB_RETRY_DELAYS"]) + 1
    budget = attempts * settings["DB_CONNECT_TIMEOUT"] + sum(settings["DB_RETRY_DELAYS"])
    if round(budget * 1000) > round(DB_FAULT_BUDGET_S * 1000):  # whole ms: no float surprises
        raise ConfigError(
            f"DB_CONNECT_TIMEOUT_MS and DB_RETRY_DELAYS_MS allow {budget:.2f}s of retrying; "
            f"the contract answers within 2s (keep it under {DB_FAULT_BUDGET_S}s)"
        )
    return settings


def _read(environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
    app_env = _choice(environ, "APP_ENV", APP_ENVS, "production")
    dev_secrets = _DevSecrets(instance_path) if app_env == "development" else None
    url = database_url(
        environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'webapp.db'}"
    )
    return {
        "APP_ENV": app_env,
        "TESTING": app_env == "test",
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
        # The request path's reads (database.read): the same database, in autocommit, so each
        # is one round trip; nothing to roll back when a connection goes back to the pool.
        "SQLALCHEMY_BINDS": {
            READS: {"url": url, "isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
        },
        "DB_CONNECT_TIMEOUT": _positive_int(environ, "DB_CONNECT_TIMEOUT_MS", 200) / 1000,
        "DB_RETRY_DELAYS": _delays(environ, "DB_RETRY_DELAYS_MS", "100,200,400"),
        "RATELIMIT_STORAGE_URI": _storage_uri(environ),
        "RATELIMIT_STRATEGY": _choice(
            environ, "RATELIMIT_STRATEGY", RATELIMIT_STRATEGIES, "fixed-window"
        ),
        "RATELIMIT_KEY_PREFIX": environ.get("RATELIMIT_KEY_PREFIX", "integrations"),
        "STATUS_RATE_LIMIT": _rate_limit(environ, "STATUS_RATE_LIMIT", "60 per minute"),
        "ANONYMOUS_RATE_LIMIT": _rate_limit(environ, "ANONYMOUS_RATE_LIMIT", "30 per minute"),
        "WEBHOOK_RATE_LIMIT": _rate_limit(environ, "WEBHOOK_RATE_LIMIT", "600 per minute"),
        "PLATFORM_RATE_LIMIT": _rate_limit(environ, "PLATFORM_RATE_LIMIT", "6000 per minute"),
        "NEXTAUTH_SECRETS": _auth_secrets(environ, dev_secrets),
        "NEXTAUTH_SESSION_STRATEGY": _choice(
            environ, "NEXTAUTH_SESSION_STRATEGY", SESSION_STRATEGIES, "database"
        ),
        "NEXTAUTH_URL": _http_url(environ, "NEXTAUTH_URL", "http://localhost:3000"),
        "TOKEN_ENCRYPTION_KEYS": _encryption_keys(environ, dev_secrets),
        "TRUSTED_PROXY_COUNT": _non_negative_int(environ, "TRUSTED_PROXY_COUNT", 0),
        "PUBLIC_BASE_URL": _public_base_url(environ, app_env),
        "ALLOWED_ORIGINS": _origins(environ),
        "PROVIDERS": _providers(environ, app_env),
        # Meta's signed requests are checked with the Instagram app secret, and with this one
        # when set: which of the two signs Instagram-Login callbacks is not documented.
        "META_APP_SECRET": environ.get("META_APP_SECRET") or None,
        "PROVIDER_TIMEOUT": (
            _positive_int(environ, "PROVIDER_CONNECT_TIMEOUT_MS", 2000) / 1000,
            _positive_int(environ, "PROVIDER_READ_TIMEOUT_MS", 5000) / 1000,
        ),
        "PROVIDER_RETRIES": _non_negative_int(environ, "PROVIDER_RETRIES", 2),
        "REFRESH_MAX_FAILURES": _positive_int(environ, "REFRESH_MAX_FAILURES", 5),
        # Every status response, page and refresh sweep lists all of a creator's integrations.
        "MAX_INTEGRATIONS_PER_USER": _positive_int(environ, "MAX_INTEGRATIONS_PER_USER", 50),
        # The largest legitimate body (the OnlyFans form) is about 3 KB; anything far larger
        # is refused with 413 before it is read.
        "MAX_CONTENT_LENGTH": _positive_int(environ, "MAX_BODY_BYTES", 16 * 1024),
        # The platform's endpoint, posted to exactly as given: a trailing slash is its path's.
        "EVENTS_URL": _endpoint_url(environ, "EVENTS_URL"),
        "EVENTS_SECRETS": _events_secrets(environ),
        "EVENTS_TIMEOUT": _positive_int(environ, "EVENTS_TIMEOUT_MS", 5000) / 1000,
        "LOG_LEVEL": _choice(environ, "LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
    }


def _optional_url(environ: Mapping[str, str], name: str) -> str | None:
    return _http_url(environ, name, "") if environ.get(name) else None


def _public_base_url(environ: Mapping[str, str], app_env: str) -> str | None:
    """This service's public URL; production builds every absolute URL from it, never Host."""
    if app_env == "production" and not environ.get("PUBLIC_BASE_URL"):
        raise ConfigError(
            "PUBLIC_BASE_URL is required in production (the URL creators reach this service at)"
        )
    return _optional_url(environ, "PUBLIC_BASE_URL")


def origin(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _origins(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Origins besides this service's own that may send state-changing requests."""
    found = [origin(_http_url(environ, "NEXTAUTH_URL", "http://localhost:3000"))]
    if environ.get("PUBLIC_BASE_URL"):
        found.append(origin(_http_url(environ, "PUBLIC_BASE_URL", "")))
    for position, raw in enumerate(environ.get("ALLOWED_ORIGINS", "").split(","), start=1):
        if raw.strip():
            parts = urlsplit(raw.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ConfigError(f"ALLOWED_ORIGINS entry {position} must be an origin")
            found.append(origin(raw.strip()))
    return tuple(dict.fromkeys(found))


def _providers(environ: Mapping[str, str], app_env: str) -> dict[str, ProviderSettings]:
    """Client settings of each OAuth provider whose credentials are set."""
    configured = {}
    for name, provider in REGISTRY.items():
        if provider.kind != OAUTH:
            continue
        prefix = provider.settings_prefix
        client_id = environ.get(f"{prefix}_CLIENT_ID", "")
        client_secret = environ.get(f"{prefix}_CLIENT_SECRET", "")
        if bool(client_id) != bool(client_secret):
            raise ConfigError(f"{prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET go together")
        if not client_id:
            continue
        configured[name] = ProviderSettings(
            client_id=client_id,
            client_secret=client_secret,
            base_url=_optional_url(environ, f"{prefix}_BASE_URL"),
            user_agent=_user_agent(environ, provider, app_env),
            api_version=_api_version(environ, prefix, provider.api_version),
        )
    return configured


def _user_agent(environ: Mapping[str, str], provider: Provider, app_env: str) -> str:
    name = f"{provider.settings_prefix}_USER_AGENT"
    agent = environ.get(name) or DEFAULT_USER_AGENT
    if (
        provider.agent_names_account
        and app_env == "production"
        and (agent == DEFAULT_USER_AGENT or not NAMED_ACCOUNT.fullmatch(agent))
    ):
        raise ConfigError(
            f"{name} is required in production and must name your {provider.display_name} "
            "account, e.g. 'web:creator-integrations:1.0 (by /u/your_username)'"
        )
    return agent


def _api_version(environ: Mapping[str, str], prefix: str, default: str | None) -> str | None:
    if default is None:  # the provider does not version its paths
        return None
    name = f"{prefix}_GRAPH_VERSION"
    value = environ.get(name) or default
    if not API_VERSION.fullmatch(value):
        raise ConfigError(f"{name} must be a Graph API version such as {default} (got {value!r})")
    return value


def database_url(url: str) -> str:
    """Make plain PostgreSQL URLs use psycopg 3 rather than SQLAlchemy's psycopg2 default."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith(("postgresql+psycopg://", "sqlite://")):
        raise ConfigError("DATABASE_URL must be a postgresql:// or sqlite:// URL")
    return url


class _DevSecrets:
    """Development-only secrets, generated once under instance/ so restarts keep data readable."""

    def __init__(self, instance_path: str) -> None:
        self.path = Path(instance_path) / "dev-secrets.json"

    def get(self, name: str, make: Any) -> str:
        values: dict[str, str] = {}
        if self.path.exists():
            values = json.loads(self.path.read_text())
        if name not in values:
            values[name] = make()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(values))
            self.path.chmod(0o600)
        return values[name]


def _choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = environ.get(name) or default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _non_negative_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number (got {raw!r})")
    return int(raw)


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _non_negative_int(environ, name, default)
    if value == 0:
        raise ConfigError(f"{name} must be greater than zero")
    return value


def _delays(environ: Mapping[str, str], name: str, default: str) -> tuple[float, ...]:
    raw = environ.get(name) or default
    parts = [p.strip() for p in raw.split(",")]
    if not all(p.isdigit() for p in parts):
        raise ConfigError(f"{name} must be comma-separated milliseconds (got {raw!r})")
    return tuple(int(p) / 1000 for p in parts)


def _rate_limit(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name) or default
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate limit such as '60 per minute' (got {value!r})")
    return value


def _storage_uri(environ: Mapping[str, str]) -> str:
    value = environ.get("RATELIMIT_STORAGE_URI") or "memory://"
    if urlsplit(value).scheme not in RATELIMIT_SCHEMES:
        raise ConfigError("RATELIMIT_STORAGE_URI must be memory:// or a redis:// URL")
    return value


def _http_url(environ: Mapping[str, str], name: str, default: str) -> str:
    return _checked_url(name, (environ.get(name) or default).rstrip("/"))


def _endpoint_url(environ: Mapping[str, str], name: str) -> str | None:
    return _checked_url(name, environ[name]) if environ.get(name) else None


def _checked_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL (got {value!r})")
    return value


def _auth_secrets(environ: Mapping[str, str], dev: _DevSecrets | None) -> tuple[str, ...]:
    # Auth.js reads AUTH_SECRET (with AUTH_SECRET_1.. for rotation), NextAuth v4 NEXTAUTH_SECRET.
    names = ("AUTH_SECRET", "AUTH_SECRET_1", "AUTH_SECRET_2", "AUTH_SECRET_3", "NEXTAUTH_SECRET")
    found = [environ[n] for n in names if environ.get(n)]
    if not found and dev is not None:
        found = [dev.get("NEXTAUTH_SECRET", lambda: secrets.token_urlsafe(32))]
    if not found:
        raise ConfigError("NEXTAUTH_SECRET (or AUTH_SECRET) is required")
    return tuple(dict.fromkeys(found))


def _encryption_keys(environ: Mapping[str, str], dev: _DevSecrets | None) -> tuple[str, ...]:
    raw = environ.get("TOKEN_ENCRYPTION_KEYS", "")
    if not raw and dev is not None:
        raw = dev.get("TOKEN_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode())
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ConfigError("TOKEN_ENCRYPTION_KEYS is required (comma-separated Fernet keys)")
    for position, key in enumerate(keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            decoded = b""
        if len(decoded) != 32:
            raise ConfigError(
                f"TOKEN_ENCRYPTION_KEYS key {position} must be 32 bytes of url-safe base64"
            )
    return keys


def _events_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Standard Webhooks secrets (`whsec_<base64>`), space-separated while rotating."""
    raw = environ.get("EVENTS_SECRET", "").split()
    if environ.get("EVENTS_URL") and not raw:
        raise ConfigError("EVENTS_SECRET is required with EVENTS_URL (whsec_ and base64)")
    for position, secret in enumerate(raw, start=1):
        body = secret.removeprefix("whsec_")
        try:
            key = base64.b64decode(body, validate=True) if body != secret else b""
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < 16:
            raise ConfigError(
                f"EVENTS_SECRET secret {position} must be whsec_ and base64 of 16 or more bytes"
            )
    return tuple(raw)


def environment() -> Mapping[str, str]:
    """The process environment: the one place settings come from outside tests."""
    return os.environ
