"""The deployment as the tests run it: seeded PostgreSQL, two gunicorns, a platform and nginx."""

from __future__ import annotations

import os
import ssl
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask_migrate import upgrade

from webapp import create_app
from webapp.database import dispose_engines
from webapp.extensions import db
from webapp.models import Integration, Session, User
from webapp.timeutil import utcnow

from ..app import TEST_DATABASE_URL, TEST_REDIS_URL, fresh_postgres_schema, service_env
from ..requirements import require
from .client import HOST, Reply, request, session_cookie
from .platform import PlatformStandIn
from .servers import NGINX, Gunicorn, Nginx, free_port, stop_all
from .sites import ONE_ORIGIN, Ports, platform_origin
from .tls import client_context, make_certificate

URL = "/api/integrations/status"
USERS = range(1, 61)


@dataclass
class Stack:
    """nginx in front of two gunicorn instances; requests go through nginx over TLS."""

    nginx: Nginx
    instances: tuple[Gunicorn, Gunicorn]
    platform: PlatformStandIn
    tls: ssl.SSLContext
    tokens: dict[int, str]
    key_prefix: str
    settings: dict[str, str]  # the instances' environment

    def get(self, path: str = URL, user: int | None = None, **kwargs: Any) -> Reply:
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers = {**session_cookie(self.tokens[user]), **headers}
        return request(self.nginx.port, path, headers=headers, tls=self.tls, **kwargs)

    def post_json(self, path: str, user: int, body: bytes, **headers: str) -> Reply:
        headers = {"Content-Type": "application/json", **headers}
        return self.get(path, user, method="POST", headers=headers, body=body)

    def monitor(self, instance: int, path: str, **kwargs: Any) -> Reply:
        """What Prometheus or a health check gets from one instance's monitoring port."""
        return request(self.nginx.ports.monitoring[instance], path, **kwargs)

    def internal(self, path: str, **kwargs: Any) -> Reply:
        """What one of the platform's backends gets from the internal listener."""
        return request(self.nginx.ports.internal, path, **kwargs)

    def origin(self) -> str:
        return f"https://{HOST}:{self.nginx.port}"

    def served_by(self, correlation_ids: list[str]) -> Counter[str]:
        """How many of these requests each instance logged."""
        wanted = set(correlation_ids)
        return Counter(
            instance.name
            for instance in self.instances
            for entry in instance.request_log()
            if entry["correlationId"] in wanted
        )

    def app_saw(self, correlation_id: str) -> bool:
        return sum(self.served_by([correlation_id]).values()) > 0

    def nginx_logged(self, correlation_id: str) -> list[dict[str, Any]]:
        return [e for e in self.nginx.access_entries() if e["correlationId"] == correlation_id]


def require_deployment(what: str, *more: tuple[str, object]) -> None:
    """PostgreSQL, Redis, nginx and any more needs are here, or a skip naming what is missing
    (CI: a failure)."""
    require(
        what,
        [
            ("TEST_DATABASE_URL", TEST_DATABASE_URL),
            ("TEST_REDIS_URL", TEST_REDIS_URL),
            (f"nginx at {NGINX}", os.access(NGINX, os.X_OK)),
            *more,
        ],
    )


@contextmanager
def seeded_schema(**overrides: str) -> Iterator[tuple[dict[str, str], dict[int, str]]]:
    """A migrated PostgreSQL schema with users, integrations and database sessions, and the
    production settings of a service behind one nginx; yields (settings, session tokens)."""
    assert TEST_DATABASE_URL and TEST_REDIS_URL
    with fresh_postgres_schema("deploy") as url:
        env = service_env(
            url,
            APP_ENV="production",
            PUBLIC_BASE_URL="https://integrations.example.com",  # start_stack: nginx's origin
            RATELIMIT_STORAGE_URI=TEST_REDIS_URL,
            TRUSTED_PROXY_COUNT="1",
            **overrides,
        )
        yield env, seed(env)


def seed(env: dict[str, str]) -> dict[int, str]:
    """Migrate in-process, as the deploy step does; each user gets one integration and a session."""
    app = create_app(env)
    tokens = {user_id: str(uuid.uuid4()) for user_id in USERS}
    with app.app_context():
        upgrade()
        for user_id, token in tokens.items():
            db.session.add(User(id=user_id, name=f"User {user_id}"))
            db.session.flush()
            db.session.add(
                Integration(
                    user_id=user_id,
                    provider="reddit",
                    account_id=f"acct-{user_id}",
                    account_name=f"u/{user_id}",
                )
            )
            db.session.add(
                Session(user_id=user_id, session_token=token, expires=utcnow() + timedelta(days=1))
            )
        db.session.commit()
        dispose_engines()
    return tokens


def start_stack(
    resources: ExitStack,
    env: dict[str, str],
    tokens: dict[int, str],
    directory: Path,
    site: str = ONE_ORIGIN,
) -> Stack:
    """Both gunicorns booting at once, then nginx; everything stopped when resources close.

    The service's public URL is nginx's origin; NextAuth's is too on one origin, and the
    platform stand-in's on a separate host.
    """
    platform = resources.enter_context(PlatformStandIn())
    https = free_port()
    origin = f"https://{HOST}:{https}"
    key_prefix = f"deploy-{uuid.uuid4().hex[:12]}"
    settings = {
        **env,
        "RATELIMIT_KEY_PREFIX": key_prefix,
        "PUBLIC_BASE_URL": origin,
        "NEXTAUTH_URL": origin if site == ONE_ORIGIN else platform_origin(platform.port),
    }
    instances = (
        Gunicorn.start("a", settings, directory),
        Gunicorn.start("b", settings, directory),
    )
    resources.callback(stop_all, [instance.process for instance in instances])
    for instance in instances:
        instance.wait_until_serving()
    cert, key = make_certificate(directory)
    ports = edge_ports((instances[0].port, instances[1].port), platform.port, https)
    nginx = Nginx.start(directory / "nginx", ports, (cert, key), site)
    resources.callback(nginx.stop)  # first: gunicorn then has no kept-alive connection to wait on
    return Stack(nginx, instances, platform, client_context(cert), tokens, key_prefix, settings)


def edge_ports(instances: tuple[int, int], platform: int, https: int | None = None) -> Ports:
    """Free loopback ports for nginx's listeners, in front of these upstreams."""
    return Ports(
        https=https or free_port(),
        http=free_port(),
        monitoring=(free_port(), free_port()),
        instances=instances,
        platform=platform,
        internal=free_port(),
    )
