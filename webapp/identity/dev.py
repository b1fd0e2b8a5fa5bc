"""Development-only sign-in: sets the demo creator's NextAuth session cookie.

Registered only when APP_ENV=development; in production NextAuth alone signs people in.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from flask import Blueprint, abort, current_app, redirect, request
from flask.typing import ResponseReturnValue

from ..extensions import db
from ..models import Session, User
from ..timeutil import utcnow
from .jwe import encode_session_token

bp = Blueprint("dev", __name__, url_prefix="/dev")
SESSION_DAYS = 30


@bp.get("/sign-in")
def sign_in() -> ResponseReturnValue:
    user_id = request.args.get("user", "1")
    if not user_id.isdigit() or db.session.get(User, int(user_id)) is None:
        abort(404)
    secure = current_app.config["NEXTAUTH_URL"].startswith("https://")
    cookie = ("__Secure-" if secure else "") + "next-auth.session-token"
    if current_app.config["NEXTAUTH_SESSION_STRATEGY"] == "jwt":
        now = int(time.time())
        claims = {
            "sub": user_id,
            "iat": now,
            "exp": now + SESSION_DAYS * 86400,
            "jti": str(uuid.uuid4()),
        }
        token = encode_session_token(claims, cookie, current_app.config["NEXTAUTH_SECRETS"][0])
    else:
        token = str(uuid.uuid4())
        db.session.add(
            Session(
                user_id=int(user_id),
                session_token=token,
                expires=utcnow() + timedelta(days=SESSION_DAYS),
            )
        )
        db.session.commit()
    response = redirect("/integrations", code=303)
    response.set_cookie(
        cookie,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        secure=secure,
        samesite="Lax",
        path="/",
    )
    return response
