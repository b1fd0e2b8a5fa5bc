"""The integrations page in Chromium against gunicorn: the list, connect, reconnect, disconnect
and the OnlyFans form, each without a page reload unless the provider has to be visited."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Dialog, Page, expect

from ..standins import ProviderStandIn, ProviderStandIns
from .conftest import CARDS
from .harness import Creator

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def mark_document(page: Page) -> None:
    """A variable that only survives while this document lives: a reload would lose it."""
    page.evaluate("window.__sameDocument = true")


def same_document(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def connect_through_provider(page: Page, standin: ProviderStandIn, name: str) -> None:
    """Connect button -> the stand-in's authorize page (auto-approves) -> callback -> page."""
    page.goto("/integrations")
    page.get_by_role("button", name=f"Connect {name}").click()
    expect_back_from_provider(page, name)
    visits = [r for r in standin.requests_to(standin.authorize_path) if r.method == "GET"]
    assert visits and visits[-1].status == 302


def expect_back_from_provider(page: Page, name: str) -> None:
    """Landed on the page with the callback's outcome, which the address then forgets."""
    expect(page.locator('#messages [data-message="connected"] p')).to_have_text(
        f"{name} is connected."
    )
    expect(page).to_have_url(re.compile(r"/integrations$"))


def test_list_shows_one_card_per_integration_with_status_and_expiry(page: Page, creator: Creator):
    creator.add("instagram", "@creator_account", expires_in=timedelta(days=12, hours=1))
    creator.add("tiktok", "@tiktok_creator", expires_in=-timedelta(hours=3, minutes=5))
    creator.add("onlyfans", "creator_of", api_key="of_live_0123456789abcdef")

    page.goto("/integrations")

    cards = page.locator(CARDS)
    expect(cards).to_have_count(3)
    instagram, tiktok, onlyfans = cards.nth(0), cards.nth(1), cards.nth(2)
    expect(instagram.get_by_role("heading")).to_have_text("Instagram @creator_account")
    expect(instagram.locator(".badge")).to_have_text("✓ Connected")
    expect(instagram.locator("time")).to_have_text("expires in 12 days")
    expect(instagram.locator("time")).to_have_attribute("datetime", ISO_Z)
    expect(tiktok.locator(".badge")).to_have_text("! Expired")
    expect(tiktok.locator("time")).to_have_text(re.compile(r"^Expired on \d{1,2} [A-Z][a-z]{2}"))
    expect(tiktok.locator("time")).to_have_attribute("datetime", ISO_Z)
    expect(tiktok.get_by_role("button")).to_have_text(["Reconnect", "Disconnect"])
    expect(tiktok.get_by_role("button").first).to_have_accessible_name(
        "Reconnect TikTok account @tiktok_creator"
    )
    expect(onlyfans.locator(".badge")).to_have_text("✓ Connected")
    expect(onlyfans).to_contain_text("no expiry")
    expect(onlyfans.locator("time")).to_have_count(0)
    expect(page.locator("#integration-list")).to_have_attribute("hx-trigger", "every 60s")


def test_reconnect_refreshes_an_expired_card_in_place_without_a_reload(
    page: Page, creator: Creator, server_standins: ProviderStandIns
):
    connect_through_provider(page, server_standins.tiktok, "TikTok")
    [connected] = creator.integrations()
    expect(page.locator(CARDS)).to_have_count(1)
    expect(page.locator(f"#integration-{connected.id} .badge")).to_have_text("✓ Connected")
    creator.expire("tiktok")
    page.reload()
    card = page.locator(f"#integration-{connected.id}")
    expect(card.locator(".badge")).to_have_text("! Expired")
    mark_document(page)
    url = page.url
    server_standins.tiktok.clear_requests()

    card.get_by_role("button", name="Reconnect TikTok account @tiktok_creator").click()

    expect(card.locator(".badge")).to_have_text("✓ Connected")
    expect(card.locator("time")).to_contain_text("expires in")
    expect(page.locator("#messages")).to_contain_text("TikTok is reconnected.")
    expect(card.get_by_role("heading")).to_be_focused()
    assert same_document(page) and page.url == url
    assert [r.form.get("grant_type") for r in server_standins.tiktok.requests] == ["refresh_token"]
    [refreshed] = creator.integrations()
    assert refreshed.id == connected.id
    assert refreshed.refresh_token != connected.refresh_token  # TikTok rotates refresh tokens


def test_reconnect_with_a_dead_grant_goes_through_the_provider_and_back(
    page: Page, creator: Creator, server_standins: ProviderStandIns
):
    connect_through_provider(page, server_standins.reddit, "Reddit")
    [connected] = creator.integrations()
    server_standins.reddit.revoke_all()  # the creator removed our app at Reddit
    creator.expire("reddit")
    page.reload()
    server_standins.reddit.clear_requests()

    page.get_by_role("button", name="Reconnect Reddit account").click()

    expect_back_from_provider(page, "Reddit")
    card = page.locator(f"#integration-{connected.id}")
    expect(card.locator(".badge")).to_have_text("✓ Connected")
    expect(page.locator(CARDS)).to_have_count(1)
    seen = [
        (r.method, r.path, r.form.get("grant_type"), r.status)
        for r in server_standins.reddit.requests
    ]
    assert seen[0] == ("POST", "/api/v1/access_token", "refresh_token", 400)  # invalid_grant
    assert ("GET", "/api/v1/authorize", None, 302) in seen  # the creator's browser at Reddit


def test_disconnect_asks_first_then_removes_the_card_down_to_none(page: Page, creator: Creator):
    creator.add("instagram", "@creator_account", expires_in=timedelta(days=12))
    creator.add("onlyfans", "creator_of", api_key="of_live_0123456789abcdef")
    page.goto("/integrations")
    mark_document(page)
    questions: list[str] = []
    deletes: list[str] = []
    page.on(
        "request",
        lambda request: deletes.append(request.url) if request.method == "DELETE" else None,
    )
    button = page.get_by_role("button", name="Disconnect Instagram account @creator_account")

    def decline(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", decline)
    button.click()
    assert questions == [
        "Disconnect Instagram account @creator_account? "
        "The platform will no longer be able to act on it."
    ]
    assert deletes == [] and len(creator.integrations()) == 2

    page.once("dialog", accept)
    button.click()

    expect(page.locator(CARDS)).to_have_count(1)
    expect(page.locator(CARDS)).to_contain_text("OnlyFans")
    expect(page.locator("#messages")).to_contain_text("Instagram is disconnected.")
    expect(page.locator("#accounts-title")).to_be_focused()  # not lost with the removed card
    assert len(questions) == 2 and len(deletes) == 1
    assert "csrf_token" not in deletes[0]  # the token travels in a header, not the URL
    assert [i.provider for i in creator.integrations()] == ["onlyfans"]

    page.once("dialog", accept)
    page.get_by_role("button", name="Disconnect OnlyFans account creator_of").click()

    expect(page.locator(CARDS)).to_have_count(0)
    expect(page.locator("#integration-list")).to_have_text(
        "No accounts connected yet. Connect one below."
    )
    assert same_document(page)
    assert creator.integrations() == []


def test_onlyfans_form_shows_field_errors_inline_then_adds_the_card(
    page: Page, creator: Creator, console
):
    console.expect_failed_responses(422)
    page.goto("/integrations")
    mark_document(page)
    form = page.locator("#onlyfans-form")
    form.get_by_label("Account ID").fill("fan page!")
    form.get_by_label("Account name").fill("My fan page")
    form.get_by_label("API key").fill("of_live_0123456789abcdef")

    form.get_by_role("button", name="Connect OnlyFans").click()

    account_id = form.get_by_label("Account ID")
    expect(account_id).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#of-accountId-error")).to_be_visible()
    expect(account_id).to_have_accessible_description(re.compile("must be 1-64 letters"))
    expect(account_id).to_be_focused()
    expect(form.get_by_label("Account name")).to_have_value("My fan page")
    expect(form.get_by_label("API key")).to_have_value("")  # a secret is never sent back
    expect(page.locator(CARDS)).to_have_count(0)

    account_id.fill("fans_2")
    form.get_by_label("API key").fill("of_live_0123456789abcdef")
    form.get_by_role("button", name="Connect OnlyFans").click()

    expect(page.locator(CARDS)).to_have_count(1)
    card = page.locator(CARDS).first
    expect(card.get_by_role("heading")).to_have_text("OnlyFans My fan page")
    expect(card).to_contain_text("no expiry")
    expect(page.locator("#messages")).to_contain_text("OnlyFans is connected.")
    expect(form.get_by_label("Account ID")).to_have_value("")
    expect(form.locator("[aria-invalid]")).to_have_count(0)
    assert same_document(page)
    assert [(i.account_id, i.account_name) for i in creator.integrations()] == [
        ("fans_2", "My fan page")
    ]


def test_onlyfans_form_marks_each_bad_field_at_once(page: Page, creator: Creator, console):
    console.expect_failed_responses(422)
    page.goto("/integrations")
    form = page.locator("#onlyfans-form")
    form.get_by_label("Account ID").fill("..")
    form.get_by_label("Account name").fill("Fan\u00adpage")  # a soft hyphen: invisible
    form.get_by_label("API key").fill("of_live_0123456789abcdef")

    form.get_by_role("button", name="Connect OnlyFans").click()

    account_id, account_name = form.get_by_label("Account ID"), form.get_by_label("Account name")
    expect(account_id).to_have_attribute("aria-invalid", "true")
    expect(account_name).to_have_attribute("aria-invalid", "true")
    expect(account_id).to_have_accessible_description(re.compile(r"Account ID must be .*'\.\.'"))
    expect(account_name).to_have_accessible_description(
        re.compile("Account name must be 1-100 characters, none of them invisible")
    )
    expect(page.locator(".field-error")).to_have_count(2)
    expect(form.get_by_label("API key")).not_to_have_attribute("aria-invalid", "true")
    expect(account_id).to_be_focused()  # the first bad field
    expect(account_id).to_have_value("..")
    expect(account_name).to_have_value("Fan\u00adpage")
    expect(form.get_by_label("API key")).to_have_value("")
    expect(page.locator(CARDS)).to_have_count(0)
    assert creator.integrations() == []
