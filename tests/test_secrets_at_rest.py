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


def test_unknown_key_cannot_read_stored_secrets(make_app, add_user):
    add_user(1, [{"provider": "tiktok", "account_id": "t", "account_name": "@t", **SECRETS}])
    stranger = make_app(TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode())

    with stranger.app_context(), pytest.raises(Exception, match="cannot be decrypted"):
        db.session.execute(select(Integration)).scalar_one()
