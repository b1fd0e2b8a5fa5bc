"""What a data deletion leaves in the outbox: once the deletion's own event has gone to the
platform, no event names the deleted account any more (its accountId and accountName); the
events it sent already lose them at once. The deletion's status page and code stay."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from ..support.app import connect_via_oauth
from ..support.events import bodies, deliver, due_now, events_settings, meta_callback, outbox


def signed_in(app, add_user, db_session_cookie, user_id: int = 1):
    add_user(user_id)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(user_id))
    return client


def naming(app, *words: str) -> list[int]:
    """The outbox rows (ids) whose stored body holds any of these words, as SQL sees them."""
    return [row["id"] for row in outbox(app) if any(word in row["body"] for word in words)]


def summary(delivered=0, retried=0) -> str:
    return f"delivered={delivered} retried={retried} failed=0 gone=0"


@pytest.fixture
def app(make_app, standins, receiver):
    return make_app(**standins.settings(), **events_settings(receiver.url))


def test_the_deleted_account_is_named_by_no_event_once_the_deletion_has_been_sent(
    app, standins, receiver, add_user, db_session_cookie
):
    account = (standins.instagram.account_id, standins.instagram.account_name)
    creator = signed_in(app, add_user, db_session_cookie)
    assert connect_via_oauth(creator, "instagram").status_code == 303
    key = {"accountId": "of1", "accountName": "fans_of_mine", "apiKey": "ofapi_0123456789abcdef"}
    assert creator.post("/api/integrations/connect/onlyfans", json=key).status_code == 201
    assert deliver(app) == summary(delivered=2)
    receiver.go_down()
    assert connect_via_oauth(creator, "instagram").status_code == 303  # reconnected: waits
    assert deliver(app) == summary(retried=1)
    receiver.come_back()

    deleted = meta_callback(creator, standins.instagram, "data-deletion")

    assert deleted.status_code == 200
    _, onlyfans, reconnected, deletion = (row["id"] for row in outbox(app))
    # Sent already: forgotten at once. Still to send, in order: kept until the deletion's own
    # event has gone, so the platform hears of the account as it was.
    assert naming(app, *account) == [reconnected, deletion]
    first = bodies(app)[0]["data"]["integration"]
    assert (first["accountId"], first["accountName"]) == (None, None)
    assert first["provider"] == "instagram" and first["status"] == "connected"

    due_now(app)
    assert deliver(app) == summary(delivered=2)

    sent = [d.event["data"] for d in receiver.accepted[-2:]]
    assert [(d["reason"], d["integration"]["accountId"]) for d in sent] == [
        ("reconnected", account[0]),
        ("data_deletion", account[0]),
    ]
    assert naming(app, *account) == []
    assert naming(app, "fans_of_mine") == [onlyfans]  # another account's events are kept whole
    assert [row["status"] for row in outbox(app)] == ["delivered"] * 4
    status = creator.get(
        urlsplit(deleted.get_json()["url"]).path, headers={"Accept": "application/json"}
    )
    assert status.status_code == 200
    code = deleted.get_json()["confirmation_code"]
    assert status.get_json()["data"]["deletionRequest"]["confirmationCode"] == code


def test_a_grant_given_again_after_the_deletion_is_named_as_usual(
    app, standins, receiver, add_user, db_session_cookie
):
    account_id = standins.instagram.account_id
    creator = signed_in(app, add_user, db_session_cookie)
    assert connect_via_oauth(creator, "instagram").status_code == 303
    assert meta_callback(creator, standins.instagram, "data-deletion").status_code == 200
    assert deliver(app) == summary(delivered=2)

    assert connect_via_oauth(creator, "instagram").status_code == 303  # the creator comes back
    assert deliver(app) == summary(delivered=1)

    *forgotten, again = outbox(app)
    assert [row["id"] for row in forgotten if account_id in row["body"]] == []
    assert account_id in again["body"]
    assert receiver.accepted[-1].event["data"]["integration"]["accountId"] == account_id


def test_with_events_url_unset_a_deletion_forgets_the_account_in_every_event_at_once(
    make_app, standins, receiver, add_user, db_session_cookie
):
    account = (standins.instagram.account_id, standins.instagram.account_name)
    with_events = make_app(**standins.settings(), **events_settings(receiver.url))
    creator = signed_in(with_events, add_user, db_session_cookie)
    assert connect_via_oauth(creator, "instagram").status_code == 303  # never delivered
    without_events = make_app(**standins.settings())  # EVENTS_URL unset since: none will be

    deleted = meta_callback(without_events.test_client(), standins.instagram, "data-deletion")

    assert deleted.status_code == 200
    [row] = outbox(with_events)
    assert row["status"] == "pending" and naming(with_events, *account) == []
