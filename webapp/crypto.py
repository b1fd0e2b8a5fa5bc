"""Encryption at rest for provider secrets: a column type that cannot store plain text."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class Ciphertext(str):
    """A value TokenCipher already encrypted; EncryptedText stores it unchanged."""


class TokenCipher:
    """MultiFernet over the configured keys: the first encrypts, every key decrypts."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plain: str) -> Ciphertext:
        return Ciphertext(self._fernet.encrypt(plain.encode("utf-8")).decode("ascii"))

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise InvalidToken("stored secret cannot be decrypted with TOKEN_ENCRYPTION_KEYS")

    def rotate(self, token: str) -> Ciphertext:
        """Re-encrypt under the first key (used after adding a new key in front)."""
        return Ciphertext(self._fernet.rotate(token.encode("ascii")).decode("ascii"))


def init_app(app: Flask) -> None:
    app.extensions["token_cipher"] = TokenCipher(app.config["TOKEN_ENCRYPTION_KEYS"])


def cipher() -> TokenCipher:
    return current_app.extensions["token_cipher"]  # type: ignore[no-any-return]


class EncryptedText(TypeDecorator[str]):
    """Text encrypted with the app's TokenCipher on the way in, decrypted on the way out."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, Ciphertext):
            return value
        return cipher().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher().decrypt(value)
