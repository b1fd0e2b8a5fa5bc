"""The OnlyFans account fields through HTTP: ids that a browser would rewrite in a path are
refused, and every bad field is reported at once."""

from __future__ import annotations

import html
import itertools
import re
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Integration

CONNECT = "/api/integrations/connect/onlyfans"
KEY = "of_live_0123456789abcdef"
BASE = "http://localhost/integrations"


@pytest.fixture
def app(make_app):
    return make_app(STATUS_RATE_LIMIT="100000 per minute")


@pytest.fixture
def creator(client, add_user, db_session_cookie):
    client.set_cookie("next-auth.session-token", db_session_cookie(add_user(1)))
    return client


def body(**fields: Any) -> dict[str, Any]:
    return {"accountId": "fans", "accountName": "Fans", "apiKey": KEY, **fields}


def stored(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(select(Integration.account_id, Integration.account_name))
        return [tuple(row) for row in rows]


def csrf(client) -> str:
    page = client.get("/integrations").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def refused_fields(response) -> dict[str, str]:
    """The bad fields of a VALIDATION_ERROR, checked to be one envelope."""
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["field"] == next(iter(error["fields"]))
    assert error["message"] == "; ".join(error["fields"].values())
    return error["fields"]


# Account ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("account_id", [".", ".."])
def test_an_id_a_browser_resolves_in_a_path_is_refused(app, creator, account_id):
    response = creator.post(CONNECT, json=body(accountId=account_id))

    fields = refused_fields(response)
    assert list(fields) == ["accountId"]
    assert "not '.' or '..'" in fields["accountId"]
    assert stored(app) == []


def short_ids() -> list[str]:
    """Every id of 1-3 of a letter, '.' and '-': each way dots can stand in a short path
    segment, whole or in part; and two of the longest."""
    short = [
        "".join(chars) for size in (1, 2, 3) for chars in itertools.product("a.-", repeat=size)
    ]
    return [*short, "." * 64, "_" * 63 + "."]


def as_a_browser(url: str) -> str:
    """The path a browser requests for a URL on the page: dot segments resolved (RFC 3986)."""
    return urlsplit(urljoin(BASE, html.unescape(url))).path


def test_every_accepted_id_is_disconnected_from_the_page_s_own_urls(app, creator):
    token = csrf(creator)
    refused = []
    for account_id in short_ids():
        for way in ("form", "htmx", "api"):
            response = creator.post(CONNECT, json=body(accountId=account_id))
            if response.status_code == 400:
                refused.append(account_id)
                break
            assert response.status_code == 201, account_id
            page = creator.get("/integrations").get_data(as_text=True)
            [(action, hx_delete)] = re.findall(r'action="([^"]*)"\s+hx-delete="([^"]*)"', page)
            if way == "form":
                answer = creator.post(as_a_browser(action), data={"csrf_token": token})
                assert answer.headers["Location"] == "/integrations?disconnected=onlyfans"
            elif way == "htmx":
                headers = {"HX-Request": "true", "X-CSRF-Token": token}
                answer = creator.delete(as_a_browser(hx_delete), headers=headers)
                assert answer.status_code == 200
            else:
                url = f"/api/integrations/disconnect/onlyfans/{quote(account_id)}"
                answer = creator.delete(as_a_browser(url))
                assert answer.get_json()["data"]["disconnected"]["accountId"] == account_id
            assert stored(app) == [], (account_id, way)

    assert refused == [".", ".."]


# Every bad field at once ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        (body(accountId="fan page!", accountName="Fa\x00ns", apiKey="short"), list(body())),
        (body(accountName="", apiKey=7), ["accountName", "apiKey"]),
        (body(accountId="fan page", apiKey="key with spaces 0123456789"), ["accountId", "apiKey"]),
        ({}, ["accountId", "accountName", "apiKey"]),
    ],
)
def test_every_bad_field_is_reported_at_once(app, creator, fields, bad):
    response = creator.post(CONNECT, json=fields)

    refused = refused_fields(response)
    assert list(refused) == bad
    assert all(refused[name].startswith(f"{name} must be ") for name in bad)
    assert "short" not in response.get_data(as_text=True)  # a key is never echoed
    assert stored(app) == []
