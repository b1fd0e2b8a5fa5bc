"""NextAuth session cookie -> user id, for the database and JWT session strategies."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from flask import current_app, g, request
from sqlalchemy import select

from . import integrations
from .database import run_with_retry
from .errors import ApiError, invalid_user_id, unauthorized
from .extensions import db
from .integrations import IntegrationStatus
from .jwe import V4_COOKIES, V5_COOKIES, JweError, decode_session_token
from .models import Session
from .timeutil import utcnow

View = TypeVar("View", bound=Callable[..., Any])

SESSION_COOKIES = (V4_COOKIES[0], V5_COOKIES[0], V4_COOKIES[1], V5_COOKIES[1])
MAX_TOKEN_CHARS = 16 * 1024
MAX_CHUNKS = 16
MAX_USER_ID = 2**31 - 1  # users.id is a PostgreSQL SERIAL (int4)
_SESSION_TOKEN = re.compile(r"[\x21-\x7e]{1,255}")
_USER_ID = re.compile(r"[1-9][0-9]{0,9}")


def current_user_id() -> int:
    """The signed-in user's id; raises ApiError (401/400/500). Resolved once per request."""
    outcome: int | ApiError | None = g.get("auth_outcome")
    if outcome is None:
        try:
            outcome = _resolve_user_id()
            g.user_id = outcome
        except ApiError as err:
            outcome = err
        g.auth_outcome = outcome
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome


def lists_integrations(view: View) -> View:
    """Mark a view that lists the signed-in user's integrations (see prefetched_integrations)."""
    view.lists_integrations = True  # type: ignore[attr-defined]
    return view


def prefetched_integrations() -> list[IntegrationStatus] | None:
    """The user's integrations if the session lookup fetched them too, else None."""
    # With database sessions, a view marked @lists_integrations gets them from the query that
    # finds the session (run when the rate limiter asks who the user is): one round trip.
    prefetched: list[IntegrationStatus] | None = g.get("prefetched_integrations")
    return prefetched


def is_signed_in() -> bool:
    try:
        current_user_id()
    except ApiError:
        return False
    return True


def read_session_cookie(cookies: Mapping[str, str]) -> tuple[str, str] | None:
    """The first NextAuth session cookie present, joining chunked `<name>.N` cookies."""
    for name in SESSION_COOKIES:
        if name in cookies:
            return name, cookies[name]
        chunks = _chunks(cookies, name)
        if chunks:
            return name, "".join(chunks)
    return None


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


def _resolve_user_id() -> int:
    found = read_session_cookie(request.cookies)
    if found is None:
        raise unauthorized()
    name, token = found
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise unauthorized()
    if current_app.config["NEXTAUTH_SESSION_STRATEGY"] == "jwt":
        return _user_id_from_jwt(name, token)
    return _user_id_from_database(token)


def _user_id_from_jwt(cookie_name: str, token: str) -> int:
    try:
        claims = decode_session_token(
            token, cookie_name, current_app.config["NEXTAUTH_SECRETS"], time.time()
        )
    except JweError:
        raise unauthorized()
    return parse_user_id(claims.get("sub"))


def _user_id_from_database(token: str) -> int:
    if not _SESSION_TOKEN.fullmatch(token):
        raise unauthorized()
    now = utcnow()
    if _view_lists_integrations():
        return _user_id_with_integrations(token, now)
    statement = select(Session.user_id).where(Session.session_token == token, Session.expires > now)
    user_id = run_with_retry(
        lambda: db.session.execute(statement).scalar_one_or_none(),
        failure_message="Failed to fetch integrations",
    )
    if user_id is None:
        raise unauthorized()
    return parse_user_id(str(user_id))


def _user_id_with_integrations(token: str, now: datetime) -> int:
    found = integrations.list_for_session(token, now)
    if found is None:
        raise unauthorized()
    user_id, g.prefetched_integrations = found
    return parse_user_id(str(user_id))


def _view_lists_integrations() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "lists_integrations", False)


def parse_user_id(value: object) -> int:
    """A session's user id as a positive int4, else INVALID_USER_ID."""
    if not isinstance(value, str) or not _USER_ID.fullmatch(value):
        raise invalid_user_id()
    user_id = int(value)
    if user_id > MAX_USER_ID:
        raise invalid_user_id()
    return user_id
