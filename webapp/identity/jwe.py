"""NextAuth's encrypted session JWTs: compact JWE with `dir` keys, as v4 and v5 make them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
from functools import lru_cache
from typing import Any, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CLOCK_TOLERANCE_S = 15  # NextAuth's own tolerance when it checks `exp` and `nbf`
V4_COOKIES = ("__Secure-next-auth.session-token", "next-auth.session-token")
V5_COOKIES = ("__Secure-authjs.session-token", "authjs.session-token")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN and Infinity; JSON.parse does not


_STRICT_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


class JweError(Exception):
    """The token is not a valid, unexpired NextAuth session token for our secrets."""


def decode_session_token(
    token: str, cookie_name: str, secrets: tuple[str, ...], now: float
) -> dict[str, Any]:
    """Decrypt and check a session token; returns its claims."""
    parts = token.split(".")
    if len(parts) != 5:
        raise JweError("not a compact JWE")
    header_b64, encrypted_key, iv_b64, ciphertext_b64, tag_b64 = parts
    alg, enc, unsupported = _protected_header(header_b64)
    if alg != "dir" or enc not in _allowed_encryptions(cookie_name) or encrypted_key:
        raise JweError("unexpected alg/enc")
    if unsupported:
        raise JweError("unsupported header parameter")
    iv, ciphertext, tag = _b64decode(iv_b64), _b64decode(ciphertext_b64), _b64decode(tag_b64)
    aad = header_b64.encode("ascii")
    for secret in secrets:
        key = derive_key(secret, cookie_name, enc)
        try:
            plaintext = _decrypt(enc, key, iv, ciphertext, tag, aad)
        except (InvalidTag, ValueError):
            continue
        return _checked_claims(_json_object(plaintext), now)
    raise JweError("no secret decrypts the token")


def encode_session_token(claims: dict[str, Any], cookie_name: str, secret: str) -> str:
    """Encrypt claims as NextAuth would (used by the development sign-in and by tests)."""
    enc = _allowed_encryptions(cookie_name)[0]
    header = {"alg": "dir", "enc": enc}
    header_b64 = _b64encode(json.dumps(header, separators=(",", ":")).encode())
    key = derive_key(secret, cookie_name, enc)
    plaintext = json.dumps(claims, separators=(",", ":")).encode()
    aad = header_b64.encode("ascii")
    if enc == "A256GCM":
        iv = os.urandom(12)
        sealed = AESGCM(key).encrypt(iv, plaintext, aad)
        ciphertext, tag = sealed[:-16], sealed[-16:]
    else:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        tag = _cbc_hs512_tag(key[:32], aad, iv, ciphertext)
    return ".".join([header_b64, "", _b64encode(iv), _b64encode(ciphertext), _b64encode(tag)])


@lru_cache(maxsize=16)
def _protected_header(header_b64: str) -> tuple[object, str, bool]:
    """alg, enc, and whether zip or crit is present: NextAuth sends the same few headers."""
    header = _json_object(_b64decode(header_b64))
    enc = header.get("enc")
    unsupported = "zip" in header or "crit" in header
    return header.get("alg"), enc if isinstance(enc, str) else "", unsupported


def _allowed_encryptions(cookie_name: str) -> tuple[str, ...]:
    if cookie_name in V4_COOKIES:
        return ("A256GCM",)
    if cookie_name in V5_COOKIES:
        return ("A256CBC-HS512", "A256GCM")
    raise JweError("not a NextAuth session cookie")


@lru_cache(maxsize=64)
def derive_key(secret: str, cookie_name: str, enc: str) -> bytes:
    """HKDF-SHA256 key for one secret; cached because it is the same for every request."""
    if cookie_name in V4_COOKIES:
        salt, info, length = b"", b"NextAuth.js Generated Encryption Key", 32
    else:
        salt = cookie_name.encode()
        info = f"Auth.js Generated Encryption Key ({cookie_name})".encode()
        length = 64 if enc == "A256CBC-HS512" else 32
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info)
    return hkdf.derive(secret.encode())


def _decrypt(enc: str, key: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes) -> bytes:
    if enc == "A256GCM":
        if len(iv) != 12 or len(tag) != 16:
            raise ValueError("bad iv or tag length")
        return AESGCM(key).decrypt(iv, ciphertext + tag, aad)
    if len(iv) != 16 or len(tag) != 32:
        raise ValueError("bad iv or tag length")
    if not hmac.compare_digest(_cbc_hs512_tag(key[:32], aad, iv, ciphertext), tag):
        raise InvalidTag()
    decryptor = Cipher(algorithms.AES(key[32:]), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _cbc_hs512_tag(mac_key: bytes, aad: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    al = (len(aad) * 8).to_bytes(8, "big")
    return hmac.new(mac_key, aad + iv + ciphertext + al, hashlib.sha512).digest()[:32]


def _checked_claims(claims: dict[str, Any], now: float) -> dict[str, Any]:
    """exp required, nbf honoured, as NextAuth's decode (jose's jwtDecrypt) checks them."""
    exp = _numeric_date(claims, "exp")
    if exp is None:
        raise JweError("missing exp")
    if now > exp + CLOCK_TOLERANCE_S:
        raise JweError("expired")
    nbf = _numeric_date(claims, "nbf")
    if nbf is not None and nbf > now + CLOCK_TOLERANCE_S:
        raise JweError("not yet valid")
    _numeric_date(claims, "iat")  # jose refuses an iat that is not a number, too
    return claims


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim as a finite float, None when absent; NaN, inf and 1e999 are refused."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JweError(f"{name} is not a number")
    try:
        seconds = float(value)
    except OverflowError:
        raise JweError(f"{name} is out of range")
    if not math.isfinite(seconds):
        raise JweError(f"{name} is not finite")
    return seconds


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = _STRICT_JSON.decode(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise JweError("not JSON")
    if not isinstance(value, dict):
        raise JweError("not a JSON object")
    return value


def _b64decode(value: str) -> bytes:
    if not _B64URL.fullmatch(value):
        raise JweError("not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise JweError("not base64url")


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
