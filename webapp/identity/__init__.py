"""Who is calling: NextAuth's session cookie -> an Identity, resolved once per request.

`identify_caller` runs before the rate limiter, so the limiter's key function only reads
what it found. Both NextAuth session strategies: a row of `sessions` (database) or the
encrypted cookie itself (jwt). With database sessions, an endpoint that lists the caller's
integrations gets them from the query that finds the session: one round trip, not two.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, current_app, g, request
from sqlalchemy import bindparam, select

from ..database import DatabaseUnavailable, read
from ..errors import ApiError, invalid_user_id, unauthorized
from ..integrations.status import STATUS_COLUMNS, IntegrationStatus, statuses_of
from ..models import Integration, Session, User
from ..timeutil import utcnow
from .jwe import V4_COOKIES, V5_COOKIES, JweError, decode_session_token

# In the order NextAuth itself prefers them; the first valid one wins.
SESSION_COOKIES = (V4_COOKIES[0], V5_COOKIES[0], V4_COOKIES[1], V5_COOKIES[1])
MAX_TOKEN_CHARS = 16 * 1024
MAX_CHUNKS = 16
MAX_USER_ID = 2**31 - 1  # users.id is a PostgreSQL SERIAL (int4)
_SESSION_TOKEN = re.compile(r"[\x21-\x7e]{1,255}")
_USER_ID = re.compile(r"[1-9][0-9]{0,9}")
FAILED_TO_FETCH = "Failed to fetch integrations"
log = logging.getLogger("webapp.auth")
# The live session of a token, and whether its user still exists (NextAuth's own adapter
# treats a session without its user as no session); then the same with the user's
# integrations, for the endpoints that list them.
_LIVE_SESSION = (
    select(Session.id, Session.user_id, User.id)
    .select_from(Session)
    .outerjoin(User, User.id == Session.user_id)
    .where(Session.session_token == bindparam("token"), Session.expires > bindparam("now"))
)
_LIVE_SESSION_AND_INTEGRATIONS = (
    _LIVE_SESSION.add_columns(*STATUS_COLUMNS)
    .outerjoin(Integration, Integration.user_id == User.id)
    .order_by(Integration.id)
)


@dataclass(frozen=True, slots=True)
class Identity:
    """A signed-in creator, and what names their session across NextAuth's cookie re-issues."""

    user_id: int
    session_key: str  # "session:<sessions.id>" (database) or "user:<sub>" (jwt)
    # The caller's integrations when the session lookup read them too (database sessions,
    # listing endpoints); None when the service must read them itself.
    integrations: list[IntegrationStatus] | None = None


def init_app(app: Flask, identified: list[Blueprint], listing: list[str]) -> None:
    """Resolve the caller of every request to these blueprints; call before the limiter's.

    `listing` names the endpoints that show the caller's integrations.
    """
    app.config["IDENTIFIED_BLUEPRINTS"] = frozenset(bp.name for bp in identified)
    app.config["LISTING_ENDPOINTS"] = frozenset(listing)
    app.before_request(identify_caller)


def identify_caller() -> None:
    """Before the limiter counts the request: find who is calling, once, and keep it on g."""
    if request.blueprint not in current_app.config["IDENTIFIED_BLUEPRINTS"]:
        return
    lists = request.endpoint in current_app.config["LISTING_ENDPOINTS"]
    try:
        g.identity = identify(request.cookies, utcnow(), with_integrations=lists)
    except ApiError as err:
        g.identity = err


def identify(
    cookies: Mapping[str, str], now: datetime, *, with_integrations: bool = False
) -> Identity:
    """The first session cookie that names a live session; raises 401 (or 400, 500) if none."""
    errors: list[ApiError] = []
    for name, token in session_cookies(cookies):
        try:
            return _identity(name, token, now, with_integrations)
        except ApiError as err:
            errors.append(err)
    # A cookie that opened a session but named a bad user, or a database failure, says more
    # than a garbage cookie beside it.
    raise next((err for err in errors if err.code != "UNAUTHORIZED"), unauthorized())


def caller() -> Identity | None:
    """The signed-in caller, or None (signed out, or resolution failed)."""
    found = g.get("identity")
    return found if isinstance(found, Identity) else None


def current_identity() -> Identity:
    """The signed-in caller; raises the ApiError that identify_caller met otherwise."""
    found = g.get("identity", None)
    if isinstance(found, Identity):
        return found
    raise found if isinstance(found, ApiError) else unauthorized()


def current_user_id() -> int:
    return current_identity().user_id


def session_cookies(cookies: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """Each NextAuth session cookie present, by name, joining chunked `<name>.N` cookies."""
    for name in SESSION_COOKIES:
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


def _identity(cookie_name: str, token: str, now: datetime, with_integrations: bool) -> Identity:
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise unauthorized()
    if current_app.config["NEXTAUTH_SESSION_STRATEGY"] == "jwt":
        return _from_jwt(cookie_name, token)
    return _from_database(token, now, with_integrations)


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


def _from_database(token: str, now: datetime, with_integrations: bool) -> Identity:
    if not _SESSION_TOKEN.fullmatch(token):
        raise unauthorized()
    statement = _LIVE_SESSION_AND_INTEGRATIONS if with_integrations else _LIVE_SESSION
    rows = read(statement, {"token": token, "now": now}, failure_message=FAILED_TO_FETCH)
    if not rows:
        raise unauthorized()
    if len({row[0] for row in rows}) > 1:  # Next.js may create `sessions` without a unique index
        log.error("more than one live session has this token")
        raise DatabaseUnavailable(FAILED_TO_FETCH)
    session_id, session_user_id, user_id = rows[0][:3]
    parsed = parse_user_id(str(session_user_id))
    if user_id is None:
        raise unauthorized()
    listed = statuses_of(rows, now) if with_integrations else None
    return Identity(parsed, f"session:{session_id}", listed)


def parse_user_id(value: object) -> int:
    """A session's user id as a positive int4, else INVALID_USER_ID."""
    if not isinstance(value, str) or not _USER_ID.fullmatch(value):
        raise invalid_user_id()
    user_id = int(value)
    if user_id > MAX_USER_ID:
        raise invalid_user_id()
    return user_id
