"""Who is calling, resolved once per request: a creator (NextAuth's session cookie -> an
Identity) or one of the platform's backends (a service key, service_keys.py).

`identify_caller` runs before the rate limiter (webapp/web/__init__.py orders the request
path), so the limiter's key function only reads what it found. Both NextAuth session
strategies: a row of `sessions` (database) or the encrypted cookie itself (jwt).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, current_app, g, request
from sqlalchemy import bindparam, select

from ..database import DatabaseUnavailable, read
from ..errors import FAILED_TO_FETCH, ApiError, insufficient_scope, invalid_user_id, unauthorized
from ..models import Session, User
from ..timeutil import utcnow
from .jwe import V4_COOKIES, V5_COOKIES, JweError, decode_session_token
from .service_keys import ServiceKey, from_authorization

# In the order NextAuth itself prefers them; the first valid one wins. NextAuth sets the
# __Secure- names on an https origin and only those (the others could be planted there).
SECURE_COOKIES = (V4_COOKIES[0], V5_COOKIES[0])
SESSION_COOKIES = (*SECURE_COOKIES, V4_COOKIES[1], V5_COOKIES[1])
MAX_TOKEN_CHARS = 16 * 1024
MAX_CHUNKS = 16
MAX_USER_ID = 2**31 - 1  # users.id is a PostgreSQL SERIAL (int4)
_SESSION_TOKEN = re.compile(r"[\x21-\x7e]{1,255}")
_USER_ID = re.compile(r"[1-9][0-9]{0,9}")
log = logging.getLogger("webapp.auth")
# The live session of a token, and whether its user still exists (NextAuth's own adapter
# treats a session without its user as no session).
_LIVE_SESSION = (
    select(Session.id, Session.user_id.label("user_id"), User.id.label("user_found"))
    .select_from(Session)
    .outerjoin(User, User.id == Session.user_id)
    .where(Session.session_token == bindparam("token"), Session.expires > bindparam("now"))
)


@dataclass(frozen=True, slots=True)
class Identity:
    """A signed-in creator, and what names their session across NextAuth's cookie re-issues."""

    user_id: int
    session_key: str  # "session:<sessions.id>" (database) or "user:<sub>" (jwt)


@dataclass(frozen=True, slots=True)
class _Callers:
    """Which requests come from creators (under which cookie names) and which from backends."""

    creators: frozenset[str]
    cookies: tuple[str, ...]
    backends: frozenset[str]


def init_app(app: Flask, creators: Iterable[Blueprint], backends: Iterable[Blueprint]) -> None:
    """The blueprints called by signed-in creators (the API and the page), and those called by
    the platform's backends with a service key (never a cookie)."""
    secure = (app.config["PUBLIC_BASE_URL"] or "").startswith("https://")
    app.extensions["callers"] = _Callers(
        frozenset(blueprint.name for blueprint in creators),
        SECURE_COOKIES if secure else SESSION_COOKIES,
        frozenset(blueprint.name for blueprint in backends),
    )


def identify_caller() -> None:
    """Before the limiter: who is calling, once per request. g.identity is the creator (None
    when signed out), g.service_key the backend (None without a live key).

    Raises ApiError for a session that names a bad user (400) or a database failure (500).
    """
    callers: _Callers = current_app.extensions["callers"]
    blueprint = request.blueprint
    if blueprint in callers.creators:
        g.identity = identify(request.cookies, utcnow(), callers.cookies)
    elif blueprint in callers.backends:
        g.service_key = from_authorization(request.headers.get("Authorization", ""), utcnow())


def caller() -> Identity | None:
    """The signed-in creator, or None (signed out, or not a creator's request)."""
    return g.get("identity")  # type: ignore[no-any-return]


def signed_in() -> Identity:
    """The signed-in creator; UNAUTHORIZED when nobody is."""
    found = caller()
    if found is None:
        raise unauthorized()
    return found


def backend() -> ServiceKey | None:
    """The platform backend calling with a live key, or None."""
    return g.get("service_key")  # type: ignore[no-any-return]


def backend_with(scope: str) -> ServiceKey:
    """The calling backend, if its key has `scope`: UNAUTHORIZED without a live key,
    INSUFFICIENT_SCOPE without the scope."""
    key = backend()
    if key is None:
        raise unauthorized()
    if scope not in key.scopes:
        raise insufficient_scope(scope)
    return key


def identify(
    cookies: Mapping[str, str], now: datetime, names: tuple[str, ...] = SESSION_COOKIES
) -> Identity | None:
    """The first session cookie that names a live session; None when none does."""
    errors: list[ApiError] = []
    for name, token in session_cookies(cookies, names):
        try:
            return _identity(name, token, now)
        except ApiError as err:
            errors.append(err)
    # A cookie that opened a session but named a bad user, or a database failure, says more
    # than a garbage cookie beside it.
    worse = next((err for err in errors if err.code != "UNAUTHORIZED"), None)
    if worse is not None:
        raise worse
    return None


def session_cookies(
    cookies: Mapping[str, str], names: tuple[str, ...] = SESSION_COOKIES
) -> Iterator[tuple[str, str]]:
    """Each NextAuth session cookie present, by name, joining chunked `<name>.N` cookies."""
    for name in names:
        if name in cookies:
            yield name, cookies[name]
        else:
            chunks = _chunks(cookies, name)
            if chunks:
                yield name, "".join(chunks)


def _chunks(cookies: Mapping[str, str], name: str) -> list[str]:
    prefix = name + "."
    numbered = {}
    for key, value in cookies.items():
        suffix = key[len(prefix) :] if key.startswith(prefix) else ""
        if suffix.isdigit() and len(suffix) <= 2:
            numbered[int(suffix)] = value
    if len(numbered) > MAX_CHUNKS or sorted(numbered) != list(range(len(numbered))):
        return []
    return [numbered[i] for i in range(len(numbered))]


def _identity(cookie_name: str, token: str, now: datetime) -> Identity:
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise unauthorized()
    if current_app.config["NEXTAUTH_SESSION_STRATEGY"] == "jwt":
        return _from_jwt(cookie_name, token)
    return _from_database(token, now)


def _from_jwt(cookie_name: str, token: str) -> Identity:
    try:
        claims = decode_session_token(
            token, cookie_name, current_app.config["NEXTAUTH_SECRETS"], time.time()
        )
    except JweError:
        raise unauthorized()
    user_id = parse_user_id(claims.get("sub"))
    # NextAuth re-encrypts the cookie (new iat, exp and jti) whenever the app reads the
    # session; the user is what stays.
    return Identity(user_id, f"user:{user_id}")


def _from_database(token: str, now: datetime) -> Identity:
    if not _SESSION_TOKEN.fullmatch(token):
        raise unauthorized()
    rows = read(_LIVE_SESSION, {"token": token, "now": now}, failure_message=FAILED_TO_FETCH)
    if not rows:
        raise unauthorized()
    if len(rows) > 1:  # Next.js may create `sessions` without a unique index
        log.error("more than one live session has this token")
        raise DatabaseUnavailable(FAILED_TO_FETCH)
    session = rows[0]
    user_id = parse_user_id(str(session.user_id))
    if session.user_found is None:
        raise unauthorized()
    return Identity(user_id, f"session:{session.id}")


def parse_user_id(value: object) -> int:
    """A session's user id as a positive int4, else INVALID_USER_ID."""
    if not isinstance(value, str) or not _USER_ID.fullmatch(value):
        raise invalid_user_id()
    user_id = int(value)
    if user_id > MAX_USER_ID:
        raise invalid_user_id()
    return user_id
