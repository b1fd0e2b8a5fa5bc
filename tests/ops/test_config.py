"""Settings come from the environment once; a bad one stops the app naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from webapp import create_app

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "APP_ENV": "production",
    "NEXTAUTH_SECRET": "s" * 32,
    "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "PUBLIC_BASE_URL": "https://integrations.example.com",
}


def start_error(env: dict[str, str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        create_app(env)
    message = str(stopped.value)
    assert "\n" not in message
    return message


def test_production_without_nextauth_secret_stops_naming_it():
    env = {k: v for k, v in GOOD.items() if k != "NEXTAUTH_SECRET"}

    assert "NEXTAUTH_SECRET" in start_error(env)


def test_auth_secret_is_read_as_well():
    env = {k: v for k, v in GOOD.items() if k != "NEXTAUTH_SECRET"} | {"AUTH_SECRET": "x" * 32}

    assert create_app(env).config["NEXTAUTH_SECRETS"] == ("x" * 32,)


def test_production_without_encryption_keys_stops_naming_it():
    env = {k: v for k, v in GOOD.items() if k != "TOKEN_ENCRYPTION_KEYS"}

    assert "TOKEN_ENCRYPTION_KEYS" in start_error(env)


@pytest.mark.parametrize("keys", ["short", "not base64 at all!!", "a" * 44 + ",", "ñ" * 44])
def test_malformed_encryption_key_stops_naming_it(keys):
    message = start_error(GOOD | {"TOKEN_ENCRYPTION_KEYS": keys + ",x"})

    assert "TOKEN_ENCRYPTION_KEYS" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEXTAUTH_SESSION_STRATEGY", "cookie"),
        ("STATUS_RATE_LIMIT", "lots"),
        ("RATELIMIT_STORAGE_URI", "mongodb://x"),
        ("DATABASE_URL", "mysql://x/y"),
        ("NEXTAUTH_URL", "ftp://x"),
        ("TRUSTED_PROXY_COUNT", "-1"),
        ("APP_ENV", "staging"),
    ],
)
def test_malformed_setting_stops_naming_it(name, value):
    assert name in start_error(GOOD | {name: value})


def test_retry_budget_beyond_two_seconds_stops_naming_the_settings():
    message = start_error(GOOD | {"DB_CONNECT_TIMEOUT_MS": "400"})

    assert "DB_CONNECT_TIMEOUT_MS" in message and "DB_RETRY_DELAYS_MS" in message


def test_plain_postgresql_url_uses_psycopg3():
    app = create_app(GOOD | {"DATABASE_URL": "postgresql://u@db.example:5432/app"})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example:5432/app"


def test_defaults():
    config = create_app(GOOD).config

    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/webapp.db")
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["STATUS_RATE_LIMIT"] == "60 per minute"
    assert config["NEXTAUTH_SESSION_STRATEGY"] == "database"
    assert config["TRUSTED_PROXY_COUNT"] == 0


def test_development_generates_and_keeps_its_own_secrets(tmp_path, monkeypatch):
    from webapp.config import load_settings

    first = load_settings({"APP_ENV": "development"}, str(tmp_path))
    second = load_settings({"APP_ENV": "development"}, str(tmp_path))

    assert first["NEXTAUTH_SECRETS"] == second["NEXTAUTH_SECRETS"]
    assert first["TOKEN_ENCRYPTION_KEYS"] == second["TOKEN_ENCRYPTION_KEYS"]
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def test_gunicorn_refuses_to_boot_with_a_one_line_reason(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "production", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "configuration error: NEXTAUTH_SECRET (or AUTH_SECRET) is required"
    ]


def test_development_sign_in_route_exists_only_in_development(tmp_path):
    production = create_app(GOOD).test_client()

    assert production.get("/dev/sign-in").status_code == 404


EVENTS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"EVENTS_URL": "ftp://platform.example/events", "EVENTS_SECRET": EVENTS_SECRET}, "URL"),
        ({"EVENTS_URL": "platform.example/events", "EVENTS_SECRET": EVENTS_SECRET}, "URL"),
        ({"EVENTS_URL": "https://platform.example/events"}, "SECRET"),
        (
            {"EVENTS_URL": "https://p.example/e", "EVENTS_SECRET": "MfKQ9r8GKYqrTwjUPD8ILPZI"},
            "SECRET",
        ),
        ({"EVENTS_URL": "https://p.example/e", "EVENTS_SECRET": "whsec_not base64!"}, "SECRET"),
        ({"EVENTS_URL": "https://p.example/e", "EVENTS_SECRET": "whsec_c2hvcnQ="}, "SECRET"),
        (
            {"EVENTS_URL": "https://p.example/e", "EVENTS_SECRET": f"{EVENTS_SECRET} whsec_"},
            "SECRET",
        ),
        ({"EVENTS_TIMEOUT_MS": "0"}, "TIMEOUT_MS"),
        ({"EVENTS_TIMEOUT_MS": "5s"}, "TIMEOUT_MS"),
    ],
)
def test_a_bad_events_setting_stops_the_app_naming_it(settings, named):
    assert f"EVENTS_{named}" in start_error(GOOD | settings)


def test_events_are_off_by_default_and_sent_with_five_second_timeouts():
    config = create_app(GOOD).config

    assert (config["EVENTS_URL"], config["EVENTS_SECRETS"]) == (None, ())
    assert config["EVENTS_TIMEOUT"] == 5.0


def test_several_events_secrets_sign_at_once_while_rotating():
    other = "whsec_" + "b3RoZXItc2VjcmV0LWJ5dGVzLTEyMzQ1Njc4OTA="
    settings = {
        "EVENTS_URL": "https://p.example/e/",
        "EVENTS_SECRET": f" {other}  {EVENTS_SECRET} ",
    }

    config = create_app(GOOD | settings).config

    assert config["EVENTS_SECRETS"] == (other, EVENTS_SECRET)
    assert config["EVENTS_URL"] == "https://p.example/e/"  # posted to as given


def test_gunicorn_refuses_to_boot_on_a_bad_events_secret_with_a_one_line_reason(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        **GOOD,
        "EVENTS_URL": "https://platform.example/events",
        "EVENTS_SECRET": "not-a-standard-webhooks-secret",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "configuration error: EVENTS_SECRET secret 1 must be whsec_ and base64 of 16 or more bytes"
    ]


# Provider settings that the providers' own rules decide -----------------------------------------

REDDIT = GOOD | {"REDDIT_CLIENT_ID": "reddit-app", "REDDIT_CLIENT_SECRET": "reddit-secret"}


@pytest.mark.parametrize(
    "agent",
    [
        None,  # the default, which names no account of this deployment's
        "web:creator-integrations:1.0 (by /u/creator-platform)",
        "python-requests/2.32",
        "web:creator-integrations:1.0",
        "web:creator-integrations:1.0 (by /u/x)",  # no Reddit username is that short
    ],
    ids=["unset", "the-default", "generic", "no-account", "not-a-username"],
)
def test_production_with_reddit_needs_a_user_agent_naming_a_reddit_account(agent):
    env = REDDIT | ({"REDDIT_USER_AGENT": agent} if agent else {})

    message = start_error(env)

    assert "REDDIT_USER_AGENT" in message and "/u/" in message


def test_a_reddit_user_agent_naming_an_account_is_used():
    agent = "web:com.example.creators:2.1 (by /u/example_ops)"

    app = create_app(REDDIT | {"REDDIT_USER_AGENT": agent})

    assert app.config["PROVIDERS"]["reddit"].user_agent == agent


@pytest.mark.parametrize("app_env", ["development", "test"])
def test_outside_production_the_default_reddit_user_agent_is_fine(app_env, tmp_path):
    env = REDDIT | {"APP_ENV": app_env}

    app = create_app(env | {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})

    assert "(by /u/" in app.config["PROVIDERS"]["reddit"].user_agent


def test_production_without_reddit_needs_no_reddit_user_agent():
    assert "reddit" not in create_app(GOOD).config["PROVIDERS"]


INSTAGRAM = GOOD | {"INSTAGRAM_CLIENT_ID": "ig-app", "INSTAGRAM_CLIENT_SECRET": "ig-secret"}


def test_instagram_calls_a_current_graph_version_unless_pinned_otherwise():
    default = create_app(INSTAGRAM).config["PROVIDERS"]["instagram"]
    pinned = create_app(INSTAGRAM | {"INSTAGRAM_GRAPH_VERSION": "v24.0"})

    assert default.api_version == "v26.0"
    assert pinned.config["PROVIDERS"]["instagram"].api_version == "v24.0"


@pytest.mark.parametrize("version", ["26.0", "v26", "latest", "v26.0/"])
def test_a_malformed_instagram_graph_version_stops_naming_it(version):
    assert "INSTAGRAM_GRAPH_VERSION" in start_error(
        INSTAGRAM | {"INSTAGRAM_GRAPH_VERSION": version}
    )


def test_meta_app_secret_is_read_when_set():
    assert create_app(GOOD).config["META_APP_SECRET"] is None
    assert create_app(GOOD | {"META_APP_SECRET": "m" * 32}).config["META_APP_SECRET"] == "m" * 32
