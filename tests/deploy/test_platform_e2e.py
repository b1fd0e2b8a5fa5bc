"""The service inside the platform, end to end, in Chromium: a real Next.js app (tests/platform/)
signs creators in with NextAuth v4 (Credentials provider, JWT sessions), and deploy/nginx.conf
puts it and the service on one origin, with PostgreSQL, Redis and the Reddit stand-in."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from ..browser.harness import Console
from ..support.app import running_standins
from ..support.chromium import CHROMIUM, CHROMIUM_ARGS, chromium_need
from ..support.deploy.e2e import PASSWORD, Platform, platform_env, seeded_service
from ..support.deploy.nextjs import APP, NEXT, NextApp, build
from ..support.deploy.servers import Gunicorn, Nginx, free_port
from ..support.deploy.stack import edge_ports, require_deployment
from ..support.deploy.tls import make_certificate
from ..support.processes import ROOT

CARDS = "#integration-list > li.card"
HOOK_ITEMS = "#hook-integrations > li"
SESSION_COOKIE = "__Secure-next-auth.session-token"  # NextAuth v4 on an https NEXTAUTH_URL
API_DOC = ROOT / "docs" / "api-integrations-status.md"  # the contract, kept in the repository


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Service, Next.js app and nginx on one origin; Chromium to visit it."""
    require_deployment(
        "the platform end-to-end test",
        ("Node.js", shutil.which("node") is not None),
        (f"Next.js at {NEXT.relative_to(ROOT)} (`make test` runs npm ci there)", NEXT.exists()),
        chromium_need(),
    )
    directory = tmp_path_factory.mktemp("platform")
    https = free_port()
    origin = f"https://127.0.0.1:{https}"
    with ExitStack() as running:
        standins = running.enter_context(running_standins())
        service = running.enter_context(seeded_service(origin, standins))
        gunicorn = Gunicorn.start("service", service.env, directory)
        running.callback(gunicorn.stop)
        nextjs = NextApp.start(build(), platform_env(origin), directory)
        running.callback(nextjs.stop)
        gunicorn.wait_until_serving()
        cert, key = make_certificate(directory)
        ports = edge_ports((gunicorn.port, gunicorn.port), nextjs.port, https)
        nginx = Nginx.start(directory / "nginx", ports, (cert, key))
        running.callback(nginx.stop)
        playwright = running.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        running.callback(browser.close)
        yield Platform(origin, browser, standins, service)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def context(platform: Platform) -> Iterator[BrowserContext]:
    """A fresh browser profile; the test's certificate is trusted as a real one would be."""
    opened = platform.browser.new_context(base_url=platform.origin, ignore_https_errors=True)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(context: BrowserContext, console: Console) -> Iterator[Page]:
    yield watched(context.new_page(), console)
    unexplained = console.unexplained()
    if unexplained:
        pytest.fail("the browser console reported errors:\n" + "\n".join(unexplained))


def watched(page: Page, console: Console) -> Page:
    page.set_default_timeout(10_000)
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    return page


def sign_in(page: Page, email: str) -> None:
    """On NextAuth's own sign-in page: the Credentials provider's form."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in with email and password").click()


def session_cookie(context: BrowserContext) -> dict[str, Any] | None:
    found = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    return dict(found[0]) if found else None


def card_names(page: Page) -> list[str]:
    """Each card's heading as one line: provider and account name."""
    return [" ".join(text.split()) for text in page.locator(f"{CARDS} h3").all_inner_texts()]


def test_signed_out_creator_signs_in_with_nextauth_and_sees_their_integrations_on_both_pages(
    platform: Platform, context: BrowserContext, page: Page, console: Console
):
    email = "ana@example.com"

    page.goto("/integrations")

    # 1. NextAuth's own sign-in page, on the same origin, coming back to the page afterwards.
    expect(page).to_have_url(re.compile(r"/api/auth/signin\?"))
    target = urlsplit(page.url)
    assert f"{target.scheme}://{target.netloc}" == platform.origin
    assert parse_qs(target.query) == {"callbackUrl": [f"{platform.origin}/integrations"]}

    # 2. Signed in, back on the integrations page with the creator's cards.
    sign_in(page, email)
    expect(page).to_have_url(f"{platform.origin}/integrations")
    expect(page.locator(CARDS)).to_have_count(2)
    assert card_names(page) == ["Instagram @ana_studio", "OnlyFans ana_of"]
    cookie = session_cookie(context)
    assert cookie is not None and cookie["secure"] and cookie["httpOnly"]
    assert cookie["domain"] == "127.0.0.1"  # host-only, as NextAuth sets it by default

    # 3. The platform's page built on the documented hook lists the same integrations.
    hook = watched(context.new_page(), console)
    hook.goto("/dashboard")
    expect(hook.locator(HOOK_ITEMS)).to_have_count(2)
    assert hook.locator(HOOK_ITEMS).all_inner_texts() == [
        "instagram @ana_studio connected",
        "onlyfans ana_of connected",
    ]
    expect(hook.locator("#signed-in-as")).to_have_text("Ana Creator")


def test_disconnect_on_an_open_page_works_after_nextauth_reissues_the_cookie(
    platform: Platform, context: BrowserContext, page: Page, console: Console
):
    page.goto("/integrations")
    sign_in(page, "bo@example.com")
    expect(page.locator(CARDS)).to_have_count(2)
    before = session_cookie(context)

    # Another tab reads the session: NextAuth re-encrypts the JWT and sets the cookie again.
    other = watched(context.new_page(), console)
    other.goto("/api/auth/session")
    assert '"name":"Bo Creator"' in other.content()
    after = session_cookie(context)
    assert before is not None and after is not None and after["value"] != before["value"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disconnect Instagram account @bo_studio").click()

    expect(page.locator("#messages")).to_contain_text("Instagram is disconnected.")
    expect(page.locator(CARDS)).to_have_count(1)
    assert [i.provider for i in platform.service.integrations("bo@example.com")] == ["onlyfans"]


def test_connect_reddit_through_the_provider_and_then_sign_out_with_nextauth(
    platform: Platform, context: BrowserContext, page: Page
):
    reddit = platform.standins.reddit
    page.goto("/integrations")
    sign_in(page, "cy@example.com")
    expect(page.locator(CARDS)).to_have_count(2)

    # 5. Connect Reddit: to the provider stand-in and back to the page on the same origin.
    page.get_by_role("button", name="Connect Reddit").click()
    expect(page.locator('#messages [data-message="connected"] p')).to_have_text(
        "Reddit is connected."
    )
    expect(page).to_have_url(f"{platform.origin}/integrations")
    expect(page.locator(CARDS)).to_have_count(3)
    assert "Reddit u/reddit_creator" in card_names(page)
    [visit] = [r for r in reddit.requests_to(reddit.authorize_path) if r.method == "GET"]
    assert visit.query["redirect_uri"] == f"{platform.origin}/api/integrations/callback/reddit"

    # 6. NextAuth's sign-out: the cookie is gone and the service answers 401. NextAuth sends
    # the creator back to where they signed in from, and the page sends them to sign in.
    assert context.request.get("/api/integrations/status").status == 200
    page.goto("/api/auth/signout")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/api/auth/signin\?callbackUrl="))
    assert session_cookie(context) is None
    status = context.request.get("/api/integrations/status")
    assert status.status == 401
    assert status.json()["error"]["code"] == "UNAUTHORIZED"


def test_the_hook_is_the_one_the_api_documentation_publishes():
    published = re.search(
        r"### React Hook\n\n```typescript\n(.*?)```", API_DOC.read_text(encoding="utf-8"), re.S
    )

    assert published is not None
    committed = (APP / "seed" / "useIntegrationsStatus.tsx").read_text(encoding="utf-8")
    assert committed == published.group(1)
