"""How the page looks and reads: phone width, accessibility in light and dark, the README
screenshot."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import AXE, CARDS, ROOT
from .harness import Console, Creator

SCREENSHOT = ROOT / "docs" / "screenshot.png"
BLOCKING_IMPACTS = ("serious", "critical")
# Both kinds of message, as the OAuth callback and a failed action leave them.
WITH_MESSAGES = "/integrations?connected=tiktok&error=provider_unavailable&provider=reddit"


def add_every_kind_of_card(creator: Creator, long_names: bool = False) -> None:
    """One card per provider: connected, expired, soon expiring and without expiry."""
    suffix = "_with_a_rather_long_handle_that_does_not_wrap_easily" if long_names else ""
    creator.add("instagram", f"@creator_account{suffix}", expires_in=timedelta(days=12, hours=1))
    creator.add("tiktok", f"@tiktok_creator{suffix}", expires_in=-timedelta(hours=3, minutes=5))
    creator.add("reddit", f"u/reddit_creator{suffix}", expires_in=timedelta(minutes=50))
    creator.add("onlyfans", f"creator_of{suffix}", api_key="of_live_0123456789abcdef")


def show_a_field_error(page: Page) -> None:
    form = page.locator("#onlyfans-form")
    form.get_by_label("Account ID").fill("not valid!")
    form.get_by_role("button", name="Connect OnlyFans").click()
    expect(form.get_by_label("Account ID")).to_have_attribute("aria-invalid", "true")
    # htmx keeps the old form's classes (htmx-request: faded) on the new one while settling.
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings for the page as it is now."""
    # axe goes in through the DevTools protocol (page.evaluate), which the page's CSP does not
    # govern: add_script_tag would be refused by script-src 'self', and bypass_csp would scan
    # a page with its CSP switched off. So the page under scan is the page as served.
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "where": [node["target"] for node in violation["nodes"]][:5],
            "why": violation["nodes"][0]["failureSummary"],
        }
        for violation in results["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_problems(page: Page, creator: Creator, console: Console, scheme):
    console.expect_failed_responses(422)
    add_every_kind_of_card(creator)
    page.emulate_media(color_scheme=scheme)
    page.goto(WITH_MESSAGES)
    expect(page.locator(CARDS)).to_have_count(4)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")

    assert axe_violations(page) == []
    show_a_field_error(page)
    assert axe_violations(page) == []


def test_phone_width_needs_no_sideways_scrolling(page: Page, creator: Creator, console: Console):
    console.expect_failed_responses(422)
    add_every_kind_of_card(creator, long_names=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(WITH_MESSAGES)
    expect(page.locator(CARDS)).to_have_count(4)

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    show_a_field_error(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    button = page.locator(CARDS).first.get_by_role("button")
    assert button.bounding_box()["height"] >= 44  # a finger-sized target


def test_readme_screenshot(page: Page, creator: Creator, tmp_path):
    """The desktop page, light; `make screenshot` keeps it as docs/screenshot.png for README."""
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "page.png"
    add_every_kind_of_card(creator)
    page.emulate_media(color_scheme="light")
    page.goto("/integrations?connected=onlyfans")
    expect(page.locator(CARDS)).to_have_count(4)

    target.parent.mkdir(exist_ok=True)
    page.screenshot(path=target, full_page=True, animations="disabled", caret="hide")

    assert target.stat().st_size > 10_000
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
