"""What the browser fixtures are made of: the database as tests arrange it, the gunicorn
process, and the watch on the browser console."""

from __future__ import annotations

import http.client
import itertools
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import ConsoleMessage
from sqlalchemy import delete, select, update

from webapp.extensions import db
from webapp.models import Integration, Session, User
from webapp.timeutil import utcnow


class Store:
    """The server's database as the tests arrange it: users, sessions, integration rows."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._user_ids = itertools.count(1)

    def new_creator(self) -> Creator:
        user_id = next(self._user_ids)
        token = str(uuid.uuid4())
        with self.app.app_context():
            db.session.add(User(id=user_id, name=f"Creator {user_id}"))
            db.session.add(
                Session(user_id=user_id, session_token=token, expires=utcnow() + timedelta(days=1))
            )
            db.session.commit()
        return Creator(self, user_id, token)

    def add_integration(self, user_id: int, **fields: Any) -> int:
        with self.app.app_context():
            row = Integration(user_id=user_id, **fields)
            db.session.add(row)
            db.session.commit()
            return row.id

    def integrations(self, user_id: int) -> list[Integration]:
        with self.app.app_context():
            statement = select(Integration).where(Integration.user_id == user_id)
            rows = list(db.session.execute(statement.order_by(Integration.id)).scalars())
            db.session.expunge_all()
            return rows

    def expire(self, user_id: int, provider: str) -> None:
        """The access token ran out an hour ago, as far as the service's rows say."""
        with self.app.app_context():
            db.session.execute(
                update(Integration)
                .where(Integration.user_id == user_id, Integration.provider == provider)
                .values(expires_at=utcnow() - timedelta(hours=1))
            )
            db.session.commit()

    def end_sessions(self, user_id: int) -> None:
        with self.app.app_context():
            db.session.execute(delete(Session).where(Session.user_id == user_id))
            db.session.commit()


@dataclass
class Creator:
    """A signed-in creator of this test, with helpers to arrange and read their rows."""

    store: Store
    user_id: int
    session_token: str

    def add(
        self,
        provider: str,
        account_name: str,
        *,
        expires_in: timedelta | None = None,
        **fields: Any,
    ) -> int:
        return self.store.add_integration(
            self.user_id,
            provider=provider,
            account_id=fields.pop("account_id", f"{provider}-{uuid.uuid4().hex[:8]}"),
            account_name=account_name,
            expires_at=None if expires_in is None else utcnow() + expires_in,
            **fields,
        )

    def expire(self, provider: str) -> None:
        self.store.expire(self.user_id, provider)

    def integrations(self) -> list[Integration]:
        return self.store.integrations(self.user_id)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    stderr: Path

    def tail(self) -> str:
        return self.stderr.read_text()[-4000:]


def wait_until_live(server: Server, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.tail()}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/livez")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        if time.monotonic() > deadline:
            pytest.fail(f"gunicorn did not answer within {timeout} s:\n{server.tail()}")
        time.sleep(0.05)


@dataclass
class Console:
    """Console errors and uncaught exceptions of a test's pages; none may be left unexplained."""

    # Chromium logs every 4xx/5xx answer and every failed request as an error, and htmx logs
    # the ones it does not swap; a test that provokes them on purpose names them, and only
    # those lines are excused. Anything else (a CSP violation, an exception) fails the test.

    errors: list[str] = field(default_factory=list)  # console.error texts
    uncaught: list[str] = field(default_factory=list)  # exceptions no script caught
    excused: list[re.Pattern[str]] = field(default_factory=list)

    def expect_failed_responses(self, *statuses: int) -> None:
        for status in statuses:
            chromium = f"Failed to load resource: the server responded with a status of {status} "
            self.excused.append(re.compile(re.escape(chromium)))
            self.excused.append(re.compile(f"Response Status Error Code {status} from /"))

    def expect_network_failure(self) -> None:
        self.excused.append(re.compile(r"Failed to load resource: net::ERR_"))
        self.excused.append(re.compile(r"htmx:(sendError|afterRequest), "))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} (at {message.location['url']})")

    def on_page_error(self, error: Exception) -> None:
        self.uncaught.append(str(error))

    def unexplained(self) -> list[str]:
        return [
            f"console.error: {error}"
            for error in self.errors
            if not any(pattern.match(error) for pattern in self.excused)
        ] + [f"uncaught: {error}" for error in self.uncaught]
