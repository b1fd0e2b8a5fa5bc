"""Browser fixtures: one gunicorn, one set of provider stand-ins and one Chromium for this
package (stopped before the rest of the suite runs); a fresh creator, browser context and
console watch per test.

Without Chromium or axe-core the browser tests skip, naming what is missing; with CI=true
they fail instead, because CI is where a missing browser must never pass unnoticed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from webapp import create_app
from webapp.database import dispose_engines

from ..standins import ProviderStandIns
from ..support.app import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    fresh_postgres_schema,
    running_standins,
    service_env,
)
from ..support.chromium import CHROMIUM, CHROMIUM_ARGS, chromium_need
from ..support.processes import free_port, start_gunicorn, stop
from ..support.requirements import require
from .harness import Console, Creator, Server, Store, wait_until_live

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SESSION_COOKIE = "next-auth.session-token"
CARDS = "#integration-list > li.card"
DESKTOP = {"width": 1280, "height": 800}
# With Redis the limiter is shared, so two workers behave as one service (as in production);
# with memory:// each worker would count alone, so one worker keeps the budgets exact.
WORKERS = 2 if TEST_REDIS_URL else 1


@pytest.fixture(scope="package", autouse=True)
def browser_requirements() -> None:
    require(
        "the browser tests",
        [
            chromium_need(),
            (f"axe-core at {AXE.relative_to(ROOT)} (`make test` runs npm ci there)", AXE.is_file()),
        ],
    )


@pytest.fixture(scope="package")
def server_standins(browser_requirements: None) -> Iterator[ProviderStandIns]:
    """The stand-ins the package's one server talks to: started once, after the check above."""
    with running_standins() as running:
        yield running


@pytest.fixture(scope="package")
def server_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PostgreSQL (a schema of its own) when TEST_DATABASE_URL is set, else a SQLite file."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('browser') / 'app.db'}"
        return
    with fresh_postgres_schema("browser") as url:
        yield url


@pytest.fixture(scope="package")
def server_port() -> int:
    return free_port()


@pytest.fixture(scope="package")
def app_env(
    server_database_url: str, server_standins: ProviderStandIns, server_port: int
) -> dict[str, str]:
    base_url = f"http://127.0.0.1:{server_port}"
    return service_env(
        server_database_url,
        NEXTAUTH_SESSION_STRATEGY="database",
        RATELIMIT_STORAGE_URI=TEST_REDIS_URL or "memory://",
        PUBLIC_BASE_URL=base_url,
        **server_standins.settings(),
    )


@pytest.fixture(scope="package")
def store(app_env: dict[str, str]) -> Iterator[Store]:
    """A migrated database (a deploy step, done before gunicorn starts) and a handle on it."""
    app = create_app(app_env)
    with app.app_context():
        upgrade()
    try:
        yield Store(app)
    finally:
        with app.app_context():
            dispose_engines()


@pytest.fixture(scope="package")
def server(
    app_env: dict[str, str],
    store: Store,
    server_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """The app under gunicorn on loopback, as deployed; always stopped, even on failure."""
    logs = tmp_path_factory.mktemp("gunicorn")
    env = {
        **app_env,
        "PATH": os.environ.get("PATH", ""),
        "PYTHONUNBUFFERED": "1",
        "GUNICORN_BIND": f"127.0.0.1:{server_port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_GRACEFUL_TIMEOUT": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(logs / "metrics"),
    }
    process = start_gunicorn(env, logs / "out.log", logs / "err.log")
    running = Server(f"http://127.0.0.1:{server_port}", process, logs / "err.log")
    try:
        wait_until_live(running, server_port)
        yield running
    finally:
        # Quick rather than graceful: the browser is closed by now, so nothing is in flight.
        stop(process, sig=signal.SIGQUIT, timeout=10)


@pytest.fixture(scope="package")
def browser(server: Server) -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded one); set up after the server, so closed first."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def creator(store: Store) -> Creator:
    return store.new_creator()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def context(browser: Browser, server: Server, creator: Creator) -> Iterator[BrowserContext]:
    """A fresh browser profile holding the creator's NextAuth session cookie."""
    opened = browser.new_context(base_url=server.url, viewport=DESKTOP, locale="en-US")
    opened.add_cookies(
        [{"name": SESSION_COOKIE, "value": creator.session_token, "url": server.url}]
    )
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(context: BrowserContext, console: Console) -> Iterator[Page]:
    opened = context.new_page()
    opened.set_default_timeout(5000)
    opened.on("console", console.on_console)
    opened.on("pageerror", console.on_page_error)
    yield opened
    unexplained = console.unexplained()
    if unexplained:
        pytest.fail("the browser console reported errors:\n" + "\n".join(unexplained))
