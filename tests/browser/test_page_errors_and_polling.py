"""When things go wrong the page says so in words the creator can dismiss, never raw JSON;
and the list keeps itself fresh by polling, but not while the tab is hidden."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

from playwright.sync_api import Page, Request, expect

from ..standins import ProviderStandIns
from .conftest import CARDS
from .harness import Console, Creator

TIKTOK_TOKEN = "/v2/oauth/token/"
DISCONNECT = re.compile(r"/integrations/[^/]+/[^/]+/disconnect$")
PROVIDER_ATTEMPTS = 3  # the service's default PROVIDER_RETRIES=2, plus the first try


def expect_dismissible_error(page: Page, text: str) -> None:
    alert = page.locator("#messages").get_by_role("alert")
    expect(alert).to_have_count(1)
    expect(alert.locator("p")).to_have_text(text)
    assert "{" not in alert.inner_text()  # words, not a JSON body
    alert.get_by_role("button", name="Dismiss message").click()
    expect(page.locator("#messages .message")).to_have_count(0)


def csrf_token(page: Page) -> str:
    headers = page.locator("body").get_attribute("hx-headers")
    assert headers
    return str(json.loads(headers)["X-CSRF-Token"])


def test_provider_down_on_reconnect_shows_a_readable_message(
    page: Page, creator: Creator, server_standins: ProviderStandIns, console: Console
):
    console.expect_failed_responses(502)
    card_id = creator.add(
        "tiktok", "@tiktok_creator", expires_in=-timedelta(hours=1), refresh_token="rft.x"
    )
    server_standins.tiktok.clear_requests()
    server_standins.tiktok.fail_next(TIKTOK_TOKEN, 503, times=PROVIDER_ATTEMPTS)
    page.goto("/integrations")

    page.get_by_role("button", name="Reconnect TikTok account @tiktok_creator").click()

    expect_dismissible_error(
        page, "TikTok is not responding right now. Please try again in a few minutes."
    )
    expect(page.locator(f"#integration-{card_id} .badge")).to_have_text("! Expired")
    faults = [r.fault for r in server_standins.tiktok.requests_to(TIKTOK_TOKEN)]
    assert faults == ["fail 503"] * PROVIDER_ATTEMPTS  # every injected fault was used up


def exhaust_disconnect_budget(page: Page) -> None:
    """Spend this creator's Disconnect budget with requests for an account they do not have."""
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_token(page)}
    for _ in range(200):
        answer = page.request.delete("/integrations/instagram/not-mine/disconnect", headers=headers)
        if answer.status == 429:
            break
        assert answer.status == 404
    else:
        raise AssertionError("the Disconnect budget never ran out")
    # A fixed window opens at its first request (this creator's first Disconnect), so the
    # budget stays spent for most of a minute: long enough for the click that follows.
    reset_in = float(answer.headers["x-ratelimit-reset"]) - time.time()
    assert reset_in > 10, f"the budget comes back in {reset_in:.1f}s, before the click"


def test_rate_limited_action_shows_a_readable_message(
    page: Page, creator: Creator, console: Console
):
    console.expect_failed_responses(429)
    creator.add("instagram", "@creator_account", expires_in=timedelta(days=12))
    page.goto("/integrations")
    exhaust_disconnect_budget(page)
    page.once("dialog", lambda dialog: dialog.accept())

    page.get_by_role("button", name="Disconnect Instagram account @creator_account").click()

    expect_dismissible_error(page, "Too many requests. Please wait a moment and try again.")
    expect(page.locator(CARDS)).to_have_count(1)
    assert len(creator.integrations()) == 1


def test_an_answer_the_page_does_not_know_becomes_words(
    page: Page, creator: Creator, console: Console
):
    """A proxy's 502 (or any body that is not ours) and a dropped network both read well."""
    console.expect_failed_responses(502)
    console.expect_network_failure()
    creator.add("instagram", "@creator_account", expires_in=timedelta(days=12))
    page.goto("/integrations")
    page.on("dialog", lambda dialog: dialog.accept())
    disconnect = page.get_by_role("button", name="Disconnect Instagram account @creator_account")
    gateway_error = json.dumps({"success": False, "error": {"code": "BAD_GATEWAY"}})

    page.route(
        "**/disconnect",
        lambda route: route.fulfill(
            status=502, content_type="application/json", body=gateway_error
        ),
    )
    disconnect.click()
    expect_dismissible_error(page, "Something went wrong (502). Please try again.")

    page.unroute(DISCONNECT)
    page.route(DISCONNECT, lambda route: route.abort("internetdisconnected"))
    disconnect.click()
    expect_dismissible_error(
        page, "The network seems to be down. Please check your connection and try again."
    )
    expect(page.locator(CARDS)).to_have_count(1)


def set_tab_hidden(page: Page, hidden: bool) -> None:
    """Headless Chromium never hides a page, so the tab switch is emulated as the page sees it."""
    page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
            Object.defineProperty(document, "visibilityState",
                {configurable: true, get: () => (hidden ? "hidden" : "visible")});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def is_poll(request: Request) -> bool:
    return request.url.endswith("/integrations") and request.headers.get("hx-request") == "true"


def test_list_polls_every_minute_but_not_while_the_tab_is_hidden(page: Page, creator: Creator):
    creator.add("instagram", "@creator_account", expires_in=timedelta(days=12))
    page.clock.install()
    page.goto("/integrations")
    polls: list[Request] = []
    page.on("request", lambda request: polls.append(request) if is_poll(request) else None)
    creator.add("reddit", "u/reddit_creator", expires_in=timedelta(hours=1))

    page.clock.run_for(59_000)
    assert polls == []
    with page.expect_response(lambda response: is_poll(response.request)):
        page.clock.run_for(2_000)
    expect(page.locator(CARDS)).to_have_count(2)

    set_tab_hidden(page, True)
    creator.add("onlyfans", "creator_of", api_key="of_live_0123456789abcdef")
    page.clock.run_for(5 * 60_000)
    expect(page.locator(CARDS)).to_have_count(2)
    assert len(polls) == 1

    with page.expect_response(lambda response: is_poll(response.request)):
        set_tab_hidden(page, False)  # back on the tab: fresh at once, not in up to a minute
    expect(page.locator(CARDS)).to_have_count(3)
    assert len(polls) == 2


def test_session_ended_while_polling_asks_to_sign_in_again(
    page: Page, creator: Creator, console: Console
):
    console.expect_failed_responses(401)
    creator.add("instagram", "@creator_account", expires_in=timedelta(days=12))
    page.clock.install()
    page.goto("/integrations")
    creator.store.end_sessions(creator.user_id)  # signed out in another tab

    page.clock.run_for(61_000)

    alert = page.locator("#messages").get_by_role("alert")
    expect(alert.locator("p")).to_have_text("Your session has ended. Please sign in again. Sign in")
    expect(alert.get_by_role("link", name="Sign in")).to_have_attribute(
        "href", re.compile(r"/api/auth/signin\?callbackUrl=http%3A%2F%2F127\.0\.0\.1%3A\d+")
    )
    expect(page.locator(CARDS)).to_have_count(1)  # what was shown stays until sign-in
