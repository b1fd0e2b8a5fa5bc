"""Accounts that need their creator, in Chromium: each expired card says why, the summary at
the top counts them and follows every swap of the list in its live region, an expired card can
be disconnected, and each action leaves one message."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from ..standins import ProviderStandIns
from .conftest import CARDS
from .harness import Console, Creator
from .test_integrations_page import connect_through_provider
from .test_page_errors_and_polling import is_poll

SUMMARY = "#attention"


def watch_summary(page: Page) -> None:
    """Mark the live region and count the changes inside it: a screen reader hears those."""
    page.evaluate(
        """() => {
            const region = document.getElementById("attention");
            window.__summaryChanges = 0;
            if (region.__original) return;
            region.__original = true;
            new MutationObserver((records) => { window.__summaryChanges += records.length; })
                .observe(region, {childList: true, subtree: true, characterData: true});
        }"""
    )


def summary_changes(page: Page) -> int:
    return int(page.evaluate("window.__summaryChanges"))


def same_summary_region(page: Page) -> bool:
    return bool(page.evaluate("document.getElementById('attention').__original === true"))


def poll_after(page: Page, milliseconds: int) -> None:
    """Let the page's clock run until the list has polled and swapped itself."""
    page.evaluate("document.getElementById('integration-list').dataset.old = 'yes'")
    with page.expect_response(lambda response: is_poll(response.request)):
        page.clock.run_for(milliseconds)
    expect(page.locator("#integration-list[data-old]")).to_have_count(0)


def expect_summary(page: Page, words: str) -> None:
    region = page.locator(SUMMARY)
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region).to_have_attribute("aria-atomic", "true")
    expect(region).to_have_text(words)


def test_each_expired_card_says_why(page: Page, creator: Creator):
    last_year = datetime(datetime.now(UTC).year - 1, 11, 3, 9, tzinfo=UTC)
    creator.store.add_integration(
        creator.user_id,
        provider="instagram",
        account_id="ran_out",
        account_name="@ran_out",
        expires_at=last_year,
    )
    creator.add(
        "tiktok", "@removed", expires_in=timedelta(days=1), expired_reason="provider_removed"
    )
    creator.add(
        "reddit", "u/revoked", expires_in=timedelta(hours=1), expired_reason="access_revoked"
    )
    creator.add("tiktok", "@failing", expires_in=-timedelta(hours=2), refresh_failures=5)
    creator.add("reddit", "u/once", expires_in=-timedelta(hours=2), refresh_failures=1)

    page.goto("/integrations")

    cards = page.locator(CARDS)
    expect(cards.locator(".why")).to_have_text(
        [
            f"Expired on 3 Nov {last_year.year}",
            "Access was removed on TikTok",
            "Access was removed on Reddit",
            "Couldn't be renewed after 5 tries",
            "Couldn't be renewed after 1 try",
        ]
    )
    expect(cards.first.locator("time")).to_have_attribute(
        "title", f"{last_year.year}-11-03T09:00:00.000Z"
    )
    expect(cards.locator(".badge")).to_have_text(["! Expired"] * 5)
    expect_summary(page, "! 5 accounts need attention")


def test_summary_appears_and_changes_with_polling_in_one_live_region(page: Page, creator: Creator):
    creator.add("instagram", "@creator_account", expires_in=timedelta(days=12))
    creator.add("tiktok", "@tiktok_creator", expires_in=timedelta(days=1))
    page.clock.install()
    page.goto("/integrations")
    expect_summary(page, "")  # there from the start, silent
    watch_summary(page)

    creator.expire("tiktok")
    poll_after(page, 61_000)
    expect_summary(page, "! 1 account needs attention")
    expect(page.locator(CARDS).nth(1).locator(".why")).to_contain_text("Expired on")
    assert summary_changes(page) > 0

    watch_summary(page)
    poll_after(page, 61_000)  # the same words are not swapped in again, so not said again
    assert summary_changes(page) == 0

    creator.expire("instagram")
    poll_after(page, 61_000)
    expect_summary(page, "! 2 accounts need attention")
    assert summary_changes(page) > 0
    assert same_summary_region(page)  # its words changed in place: announced, not replaced


def test_disconnect_on_an_expired_card_removes_it_and_updates_the_summary(
    page: Page, creator: Creator
):
    creator.add("instagram", "@creator_account", expires_in=-timedelta(hours=1))
    creator.add("tiktok", "@tiktok_creator", expires_in=-timedelta(hours=3))
    creator.add("reddit", "u/reddit_creator", expires_in=timedelta(hours=1))
    page.goto("/integrations")
    expect_summary(page, "! 2 accounts need attention")
    watch_summary(page)
    questions: list[str] = []

    def accept(dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Disconnect TikTok account @tiktok_creator").click()

    expect(page.locator(CARDS)).to_have_count(2)
    expect(page.get_by_text("@tiktok_creator")).to_have_count(0)
    expect_summary(page, "! 1 account needs attention")
    expect(page.locator("#messages .message p")).to_have_text(["TikTok is disconnected."])
    expect(page.locator("#accounts-title")).to_be_focused()
    assert questions == [
        "Disconnect TikTok account @tiktok_creator? "
        "The platform will no longer be able to act on it."
    ]
    assert same_summary_region(page)
    assert [i.provider for i in creator.integrations()] == ["instagram", "reddit"]

    page.once("dialog", accept)
    page.get_by_role("button", name="Disconnect Instagram account @creator_account").click()

    expect(page.locator(CARDS)).to_have_count(1)
    expect_summary(page, "")
    expect(page.locator("#accounts-title")).to_be_focused()


def test_reconnect_clears_the_summary(
    page: Page, creator: Creator, server_standins: ProviderStandIns
):
    connect_through_provider(page, server_standins.tiktok, "TikTok")
    creator.expire("tiktok")
    page.goto("/integrations")
    expect_summary(page, "! 1 account needs attention")
    watch_summary(page)

    page.get_by_role("button", name="Reconnect TikTok account @tiktok_creator").click()

    expect(page.locator(CARDS).first.locator(".badge")).to_have_text("✓ Connected")
    expect_summary(page, "")
    assert same_summary_region(page)


def test_each_action_replaces_the_last_message(page: Page, creator: Creator, console: Console):
    console.expect_network_failure()
    creator.add("instagram", "@creator_account", expires_in=timedelta(days=12))
    creator.add("reddit", "u/reddit_creator", expires_in=-timedelta(hours=1))
    creator.add("onlyfans", "creator_of", api_key="of_live_0123456789abcdef")
    page.goto("/integrations?connected=reddit")  # as the OAuth callback leaves it
    messages = page.locator("#messages .message p")  # one paragraph per message
    expect(messages).to_have_text(["Reddit is connected."])
    page.on("dialog", lambda dialog: dialog.accept())

    page.get_by_role("button", name="Disconnect Instagram account @creator_account").click()
    expect(messages).to_have_text(["Instagram is disconnected."])

    page.route(re.compile(r"/onlyfans/[^/]+/disconnect$"), lambda route: route.abort("failed"))
    page.get_by_role("button", name="Disconnect OnlyFans account creator_of").click()
    expect(messages).to_have_text(
        ["The network seems to be down. Please check your connection and try again."]
    )

    page.get_by_role("button", name="Disconnect Reddit account u/reddit_creator").click()
    expect(messages).to_have_text(["Reddit is disconnected."])
    expect(page.locator(CARDS)).to_have_count(1)
