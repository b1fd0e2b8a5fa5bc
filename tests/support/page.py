"""What the page tests read: HTMX requests, the page's CSRF token, one card of a page."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

HX = {"HX-Request": "true"}


def csrf(client: FlaskClient) -> str:
    """The CSRF token the page embeds for this session."""
    page = client.get("/integrations").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found[1]


def card(html: str, account_name: str) -> str:
    """The card (its `<li>`) of the account of this name, as served."""
    name = re.escape(f'<span class="account-name">{account_name}</span>')
    found = re.search(rf'<li id="integration-\d+"(?:(?!</li>).)*?{name}.*?</li>', html, re.S)
    assert found, f"no card for {account_name}"
    return found[0]
