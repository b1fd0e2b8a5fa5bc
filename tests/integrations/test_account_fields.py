"""The OnlyFans account fields through HTTP: ids that a browser would rewrite in a path are
refused, names are judged by Unicode category, and every bad field is reported at once."""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import emoji
import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Integration

CONNECT = "/api/integrations/connect/onlyfans"
KEY = "of_live_0123456789abcdef"
BASE = "http://localhost/integrations"
TAGS = range(0xE0000, 0xE0080)


@pytest.fixture
def app(make_app):
    return make_app(STATUS_RATE_LIMIT="100000 per minute")


@pytest.fixture
def signed_in_unlimited_client(client, add_user, db_session_cookie):
    """The test client of this module's app (no effective rate limit), signed in as user 1."""
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
def test_an_id_a_browser_resolves_in_a_path_is_refused(app, signed_in_unlimited_client, account_id):
    response = signed_in_unlimited_client.post(CONNECT, json=body(accountId=account_id))

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


def test_every_accepted_id_is_disconnected_from_the_page_s_own_urls(
    app, signed_in_unlimited_client
):
    token = csrf(signed_in_unlimited_client)
    refused = []
    for account_id in short_ids():
        for way in ("form", "htmx", "api"):
            response = signed_in_unlimited_client.post(CONNECT, json=body(accountId=account_id))
            if response.status_code == 400:
                refused.append(account_id)
                break
            assert response.status_code == 201, account_id
            page = signed_in_unlimited_client.get("/integrations").get_data(as_text=True)
            [(action, hx_delete)] = re.findall(r'action="([^"]*)"\s+hx-delete="([^"]*)"', page)
            if way == "form":
                answer = signed_in_unlimited_client.post(
                    as_a_browser(action), data={"csrf_token": token}
                )
                assert answer.headers["Location"] == "/integrations?disconnected=onlyfans"
            elif way == "htmx":
                headers = {"HX-Request": "true", "X-CSRF-Token": token}
                answer = signed_in_unlimited_client.delete(as_a_browser(hx_delete), headers=headers)
                assert answer.status_code == 200
            else:
                url = f"/api/integrations/disconnect/onlyfans/{quote(account_id)}"
                answer = signed_in_unlimited_client.delete(as_a_browser(url))
                assert answer.get_json()["data"]["disconnected"]["accountId"] == account_id
            assert stored(app) == [], (account_id, way)

    assert refused == [".", ".."]


# Account names --------------------------------------------------------------------------------

# One of each kind the issue named, and each refused category; joiners where they join nothing.
REFUSED_NAMES = {
    "line separator (Zl)": "Fan\u2028page",
    "paragraph separator (Zp)": "Fan\u2029page",
    "byte order mark (Cf)": "\ufeffFans",
    "Arabic letter mark (Cf)": "Fa\u061cns",
    "soft hyphen (Cf)": "Fan\u00adpage",
    "tag characters (Cf)": "Fans\U000e0068\U000e0069",
    "zero width space (Cf)": "Fa\u200bns",
    "bidi override (Cf)": "invoice\u202egnp.exe",
    "control (Cc)": "Fans\x07",
    "private use (Co)": "Fans\ue000",
    "private use, plane 16 (Co)": "Fans\U00100000",
    "unassigned (Cn)": "Fans\u0378",
    "ZWJ between letters": "Fa\u200dns",
    "ZWJ after the last emoji": "\U0001f469\u200d Studio",
    "ZWJ first": "\u200d\U0001f4bb",
    "ZWNJ between Latin letters": "Fa\u200cns",
}


@pytest.mark.parametrize("name", REFUSED_NAMES.values(), ids=REFUSED_NAMES.keys())
def test_a_name_with_a_character_of_a_refused_category_is_refused(
    app, signed_in_unlimited_client, name
):
    response = signed_in_unlimited_client.post(CONNECT, json=body(accountName=name))

    assert list(refused_fields(response)) == ["accountName"]
    assert stored(app) == []


KEPT_NAMES = [
    "\U0001f469\u200d\U0001f4bb Studio",  # woman technologist: ZWJ
    "\u2764\ufe0f\u200d\U0001f525 Fans",  # heart on fire: emoji style, then ZWJ
    "\U0001f3f3\ufe0f\u200d\U0001f308 Pride",  # rainbow flag
    "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # with a skin tone
    "\U0001f44d\U0001f3ff Thumbs",
    "\U0001f3f4\u200d\u2620\ufe0f",  # pirate flag
    "1\ufe0f\u20e3 Fan",  # keycap
    "#\ufe0f\u20e3",
    "\U0001f1eb\U0001f1f7 Paris",  # a flag of regional indicators
    "e\u0301lodie",  # a combining accent
    "Ζωή",
    "Мария",
    "李小龙",
    "김민지",
    "สมชาย",
    "שרה",
    "مريم",
    "देवी",
    "\u0dc1\u0dca\u200d\u0dbb\u0dd3 \u0dbd\u0d82\u0d9a\u0dcf",  # Sinhala: ZWJ after the virama
    "\u0639\u0644\u06cc\u200c\u0627\u06a9\u0628\u0631",  # Persian: ZWNJ between two letters
    "ኢትዮጵያ",
    "Nguyễn Thị",
    "x" * 100,
]


def test_names_creators_use_are_kept_as_typed(app, signed_in_unlimited_client):
    for name in KEPT_NAMES:
        response = signed_in_unlimited_client.post(
            CONNECT, json=body(accountName=f"  {name}\u3000\n")
        )
        assert response.status_code in (200, 201), name
        assert response.get_json()["data"]["integration"]["accountName"] == name
        assert stored(app) == [("fans", name)]
        assert name in signed_in_unlimited_client.get("/integrations").get_data(as_text=True)


def test_every_emoji_this_unicode_version_knows_is_kept_but_tag_sequences(
    app, signed_in_unlimited_client
):
    known = [e for e in emoji.EMOJI_DATA if "Cn" not in map(unicodedata.category, e)]
    tagged = [e for e in known if any(ord(char) in TAGS for char in e)]
    batches = [""]
    for sequence in (e for e in known if e not in tagged):
        if len(batches[-1]) + len(sequence) > 100:
            batches.append("")
        batches[-1] += sequence  # no sequence starts or ends with a joiner: they stay apart

    kept = [
        signed_in_unlimited_client.post(CONNECT, json=body(accountName=batch)) for batch in batches
    ]
    refused = [
        signed_in_unlimited_client.post(CONNECT, json=body(accountName=f"Fans {e}")) for e in tagged
    ]

    assert len(known) - len(tagged) > 4000
    assert [r.get_json()["data"]["integration"]["accountName"] for r in kept] == batches
    assert [list(refused_fields(r)) for r in refused] == [["accountName"]] * len(tagged) != []


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
def test_every_bad_field_is_reported_at_once(app, signed_in_unlimited_client, fields, bad):
    response = signed_in_unlimited_client.post(CONNECT, json=fields)

    refused = refused_fields(response)
    assert list(refused) == bad
    assert all(refused[name].startswith(f"{name} must be ") for name in bad)
    assert "short" not in response.get_data(as_text=True)  # a key is never echoed
    assert stored(app) == []
