"""Provider secrets are encrypted in the database and readable through key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import Integration

SECRETS = {
    "access_token": "plain-access-123",
    "refresh_token": "plain-refresh-456",
    "api_key": "plain-apikey-789",
}


def test_database_holds_no_secret_in_clear_text(app, add_user):
    add_user(1, [{"provider": "tiktok", "account_id": "t", "account_name": "@t", **SECRETS}])

    with app.app_context():
        raw = db.session.execute(
            text("SELECT access_token, refresh_token, api_key FROM integrations")
        ).one()
        loaded = db.session.execute(select(Integration)).scalar_one()

    for stored, plain in zip(raw, SECRETS.values(), strict=True):
        assert plain not in stored
    assert (loaded.access_token, loaded.refresh_token, loaded.api_key) == tuple(SECRETS.values())


def test_old_key_still_decrypts_after_a_new_key_is_put_first(make_app, add_user, base_env):
    add_user(1, [{"provider": "tiktok", "account_id": "t", "account_name": "@t", **SECRETS}])
    old_key = base_env["TOKEN_ENCRYPTION_KEYS"]
    rotated = make_app(TOKEN_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},{old_key}")

    with rotated.app_context():
        loaded = db.session.execute(select(Integration)).scalar_one()
        assert loaded.access_token == SECRETS["access_token"]


def test_reencrypt_moves_every_secret_to_the_new_key_so_the_old_one_can_go(
    make_app, add_user, base_env
):
    add_user(1, [{"provider": "tiktok", "account_id": "t", "account_name": "@t", **SECRETS}])
    add_user(2, [{"provider": "onlyfans", "account_id": "o", "account_name": "o", "api_key": "k"}])
    new_key = Fernet.generate_key().decode()
    both = make_app(TOKEN_ENCRYPTION_KEYS=f"{new_key},{base_env['TOKEN_ENCRYPTION_KEYS']}")
    with both.app_context():
        before = db.session.execute(text("SELECT id, access_token, updated_at FROM integrations"))
        before = sorted(before.all())

    result = both.test_cli_runner().invoke(args=["integrations", "reencrypt"])

    assert (result.exit_code, result.output) == (0, "reencrypted=2\n")
    new_only = make_app(TOKEN_ENCRYPTION_KEYS=new_key)
    with new_only.app_context():
        rows = db.session.execute(select(Integration).order_by(Integration.id)).scalars().all()
        assert [(r.access_token, r.refresh_token, r.api_key) for r in rows] == [
            tuple(SECRETS.values()),
            (None, None, "k"),
        ]
        after = sorted(
            db.session.execute(text("SELECT id, access_token, updated_at FROM integrations")).all()
        )
    assert after[0][1] != before[0][1]  # a new ciphertext, under the new key
    assert [row[2] for row in after] == [row[2] for row in before]  # not a change a creator sees


def test_unknown_key_cannot_read_stored_secrets(make_app, add_user):
    add_user(1, [{"provider": "tiktok", "account_id": "t", "account_name": "@t", **SECRETS}])
    stranger = make_app(TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode())

    with stranger.app_context(), pytest.raises(Exception, match="cannot be decrypted"):
        db.session.execute(select(Integration)).scalar_one()


def database_dump(database_url: str) -> str:
    """The whole database as text, as a backup would hold it."""
    import sqlite3
    import subprocess
    from urllib.parse import parse_qs, unquote, urlsplit

    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            dump = "\n".join(conn.iterdump())
        conn.close()
        return dump
    parts = urlsplit(database_url)
    schema = unquote(parse_qs(parts.query)["options"][0]).split("search_path=")[1]
    plain_url = database_url.split("?")[0]
    result = subprocess.run(
        ["pg_dump", "--schema", schema, plain_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def test_database_dump_holds_no_token_in_clear_text(signed_in_client, provider_app, database_url):
    from ..support.app import connect_via_oauth

    for provider in ("instagram", "tiktok", "reddit"):
        connect_via_oauth(signed_in_client, provider)
    signed_in_client.post(
        "/api/integrations/connect/onlyfans",
        json={"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_secret_0123456789"},
    )
    with provider_app.app_context():
        stored = db.session.execute(select(Integration)).scalars().all()
        secrets = [s for r in stored for s in (r.access_token, r.refresh_token, r.api_key) if s]
    assert len(secrets) == 6  # three access tokens, two refresh tokens, one API key

    dump = database_dump(database_url)

    assert "INSERT INTO" in dump or "COPY " in dump
    for secret in secrets:
        assert secret not in dump
