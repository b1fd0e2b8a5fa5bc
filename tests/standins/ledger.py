"""Authorization codes and tokens as a provider keeps them: single use, expiry, revocation,
on a clock that tests can move forward instead of sleeping."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal

TokenState = Literal["valid", "expired", "revoked", "unknown"]
CODE_LIFETIME = 600.0  # codes are single-use and short-lived (about 10 minutes)


@dataclass
class AuthCode:
    value: str
    redirect_uri: str
    scope: str
    expires_at: float
    params: dict[str, str] = field(default_factory=dict)  # the authorize query, as sent
    used: bool = False


@dataclass
class IssuedToken:
    value: str
    kind: Literal["access", "refresh"]
    grant: int  # tokens of one authorization share it, so revocation can take them all
    scope: str
    issued_at: float
    expires_at: float | None  # None: lives until revoked (Reddit's permanent refresh token)
    variant: str = ""  # Instagram: "short" or "long"
    revoked: bool = False


class Ledger:
    """What one provider has issued. Not locked itself: its stand-in's lock guards it."""

    def __init__(self) -> None:
        self.codes: dict[str, AuthCode] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self._grants = itertools.count(1)
        self._clock_offset = 0.0

    def now(self) -> float:
        return time.time() + self._clock_offset

    def advance(self, seconds: float) -> None:
        self._clock_offset += seconds

    def add_code(self, value: str, redirect_uri: str, params: dict[str, str]) -> AuthCode:
        code = AuthCode(
            value=value,
            redirect_uri=redirect_uri,
            scope=params.get("scope", ""),
            expires_at=self.now() + CODE_LIFETIME,
            params=dict(params),
        )
        self.codes[value] = code
        return code

    def redeem(self, value: str, redirect_uri: str) -> tuple[AuthCode | None, str]:
        """The code, now used up, or None and why: unknown, used, expired, redirect_mismatch."""
        code = self.codes.get(value)
        if code is None:
            return None, "unknown"
        if code.used:
            return None, "used"
        if self.now() >= code.expires_at:
            return None, "expired"
        if code.redirect_uri != redirect_uri:
            return None, "redirect_mismatch"
        code.used = True
        return code, "ok"

    def new_grant(self) -> int:
        return next(self._grants)

    def issue(
        self,
        kind: Literal["access", "refresh"],
        *,
        grant: int,
        scope: str,
        expires_at: float | None,
        prefix: str = "",
        variant: str = "",
    ) -> IssuedToken:
        token = IssuedToken(
            value=prefix + secrets.token_urlsafe(32),
            kind=kind,
            grant=grant,
            scope=scope,
            issued_at=self.now(),
            expires_at=expires_at,
            variant=variant,
        )
        self.tokens[token.value] = token
        return token

    def lookup(self, value: str, kind: str | None = None) -> tuple[IssuedToken | None, TokenState]:
        token = self.tokens.get(value)
        if token is None or (kind is not None and token.kind != kind):
            return None, "unknown"
        if token.revoked:
            return token, "revoked"
        if token.expires_at is not None and self.now() >= token.expires_at:
            return token, "expired"
        return token, "valid"

    def revoke_grant(self, grant: int) -> None:
        for token in self.tokens.values():
            if token.grant == grant:
                token.revoked = True

    def revoke_all(self) -> None:
        for token in self.tokens.values():
            token.revoked = True
        for code in self.codes.values():
            code.used = True

    def expire_access_tokens(self) -> None:
        for token in self.tokens.values():
            if token.kind == "access":
                token.expires_at = self.now() - 1

    def seconds_left(self, token: IssuedToken) -> int:
        return 0 if token.expires_at is None else max(0, round(token.expires_at - self.now()))


def log_id() -> str:
    """A TikTok-style log id: a UTC timestamp and random hex."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(12).upper()


def fbtrace_id() -> str:
    return secrets.token_urlsafe(8)
