"""Fresh credentials as operators run the service: two gunicorn workers on PostgreSQL and Redis,
many backends reading one expired grant at once, and a provider that rotates refresh tokens."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, update

from webapp import create_app
from webapp.database import dispose_engines
from webapp.extensions import db
from webapp.models import Integration, Session, User
from webapp.timeutil import utcnow

from ..support.app import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    connect_via_oauth,
    fresh_postgres_schema,
    service_env,
)
from ..support.backends import bearer, make_key
from ..support.deploy.client import request
from ..support.deploy.servers import WORKERS, Gunicorn

pytestmark = pytest.mark.skipif(
    not (TEST_DATABASE_URL and TEST_REDIS_URL),
    reason="needs PostgreSQL and Redis shared by the workers: set TEST_DATABASE_URL and "
    "TEST_REDIS_URL",
)
READERS = 20


def test_twenty_reads_of_an_expired_grant_across_workers_make_one_refresh(standins, tmp_path):
    assert WORKERS >= 2
    with fresh_postgres_schema() as url:
        env = service_env(
            url, RATELIMIT_STORAGE_URI=TEST_REDIS_URL or "", **standins.settings()
        ) | {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "8"}
        app = create_app(env)
        with app.app_context():
            upgrade()
        creator = app.test_client()
        with app.app_context():
            db.session.add(User(id=1, name="Creator"))
            db.session.add(
                Session(user_id=1, session_token="s-1", expires=utcnow() + timedelta(days=1))
            )
            db.session.commit()
        creator.set_cookie("next-auth.session-token", "s-1")
        connect_via_oauth(creator, "tiktok")
        key = make_key(app, "scheduler", "credentials:read")
        with app.app_context():
            row = db.session.execute(select(Integration)).scalar_one()
            integration_id, first_token = row.id, row.access_token
            db.session.execute(
                update(Integration).values(expires_at=utcnow() - timedelta(minutes=1))
            )
            db.session.commit()
            dispose_engines()
        refreshes_before = len(standins.tiktok.requests_to("/v2/oauth/token/"))
        standins.tiktok.hang_next("/v2/oauth/token/", 1.0)  # the refresh under way takes a while

        server = Gunicorn.start("service", env, tmp_path)
        try:
            server.wait_until_serving()
            path = f"/api/platform/integrations/{integration_id}/credentials"
            with ThreadPoolExecutor(max_workers=READERS) as pool:
                replies = list(
                    pool.map(
                        lambda _: request(server.port, path, headers=bearer(key)), range(READERS)
                    )
                )
            pids = {entry["pid"] for entry in server.request_log() if entry["path"] == path}
        finally:
            server.stop()

    assert [reply.status for reply in replies] == [200] * READERS, replies[0].body
    tokens = {reply.json()["data"]["accessToken"] for reply in replies}
    assert len(tokens) == 1
    [token] = tokens
    assert token != first_token
    assert len(standins.tiktok.requests_to("/v2/oauth/token/")) == refreshes_before + 1
    assert standins.tiktok.token_state(token) == "valid"
    assert len(pids) == 2, "both workers answered some of the reads"
