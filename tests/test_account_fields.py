"""The OnlyFans account fields through HTTP: every bad field is reported at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Integration

CONNECT = "/api/integrations/connect/onlyfans"
KEY = "of_live_0123456789abcdef"


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


def refused_fields(response) -> dict[str, str]:
    """The bad fields of a VALIDATION_ERROR, checked to be one envelope."""
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["field"] == next(iter(error["fields"]))
    assert error["message"] == "; ".join(error["fields"].values())
    return error["fields"]


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
