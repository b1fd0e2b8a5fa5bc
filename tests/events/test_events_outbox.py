"""The outbox: written in the change's own transaction (a rollback leaves no event), never
written while EVENTS_URL is unset, and never holding a secret."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import event

from webapp.extensions import db
from webapp.timeutil import utcnow

from ..support.app import TEST_DATABASE_URL, connect_via_oauth
from ..support.events import (
    EVENTS_SECRET,
    bodies,
    cli,
    deliver,
    events_settings,
    meta_callback,
    meta_signed_request,
    outbox,
    sql,
    status_items,
    tiktok_removed,
)
from ..support.locks import blocked_behind, holds_rows_of, in_thread

KEYS = ["ofapi_first_0123456789abcdef", "ofapi_second_0123456789abcdef"]
# The events the walk below makes, in order: (type, reason, provider).
EVERY_PATH = [
    ("integration.connected", "new", "instagram"),
    ("integration.connected", "new", "tiktok"),
    ("integration.connected", "new", "reddit"),
    ("integration.connected", "new", "onlyfans"),
    ("integration.connected", "reconnected", "onlyfans"),
    ("integration.expired", "access_revoked", "reddit"),
    ("integration.connected", "reconnected", "reddit"),
    ("integration.expired", "access_revoked", "reddit"),
    ("integration.expired", "provider_removed", "tiktok"),
    ("integration.expired", "expired", "instagram"),
    ("integration.connected", "reconnected", "instagram"),
    ("integration.expired", "provider_removed", "instagram"),
    ("integration.connected", "reconnected", "tiktok"),
    ("integration.expired", "refresh_failed", "tiktok"),
    ("integration.connected", "renewed", "tiktok"),
    ("integration.disconnected", "creator", "onlyfans"),
    ("integration.disconnected", "data_deletion", "instagram"),
]


def postgresql_only(test):
    """A second connection's open transaction and its row locks: PostgreSQL only."""
    on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    return pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL")(on_postgresql(test))


def walk_every_path(app, signed_in_client, standins) -> None:
    """Connect, refresh, fail, revoke, expire, renew and delete through every real interface."""
    for provider in ("instagram", "tiktok", "reddit"):
        connect_via_oauth(signed_in_client, provider)
    for key in KEYS:
        signed_in_client.post(
            "/api/integrations/connect/onlyfans",
            json={"accountId": "of1", "accountName": "OF", "apiKey": key},
        )
    assert refresh(signed_in_client, standins.tiktok).status_code == 200  # working: no event
    cli(app, "integrations", "refresh-due", "--within", "3h")
    standins.reddit.revoke_all()
    assert refresh(signed_in_client, standins.reddit).status_code == 409
    connect_via_oauth(signed_in_client, "reddit")
    standins.reddit.revoke_all()
    assert cli(app, "integrations", "verify", "--older-than", "0s").startswith("verified=2 dead=1")
    assert tiktok_removed(signed_in_client, standins.tiktok).status_code == 200
    expire(app, "instagram")
    cli(app, "integrations", "refresh-due")
    connect_via_oauth(signed_in_client, "instagram")
    assert meta_callback(signed_in_client, standins.instagram, "deauthorize").status_code == 200
    connect_via_oauth(signed_in_client, "tiktok")
    expire(app, "tiktok")
    standins.tiktok.fail_next("/v2/oauth/token/", 503, times=3)
    assert cli(app, "integrations", "refresh-due").endswith("expired=1")
    assert refresh(signed_in_client, standins.tiktok).status_code == 200
    assert signed_in_client.delete("/api/integrations/disconnect/onlyfans/of1").status_code == 200
    assert meta_callback(signed_in_client, standins.instagram, "data-deletion").status_code == 200


def refresh(client, standin):
    return client.post(f"/api/integrations/refresh/{standin.name}/{standin.account_id}")


def expire(app, provider: str) -> None:
    past = utcnow() - timedelta(minutes=1)
    sql(app, "UPDATE integrations SET expires_at = :t WHERE provider = :p", t=past, p=provider)


def signed_in(app, add_user, db_session_cookie, user_id: int = 1):
    add_user(user_id)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(user_id))
    return client


def every_secret(standins) -> list[str]:
    """What the stand-ins issued (tokens, codes), their client secrets, our keys and secret."""
    found = [*KEYS, EVENTS_SECRET, EVENTS_SECRET.removeprefix("whsec_")]
    for standin in standins.all:
        found += [*standin.ledger.tokens, *standin.ledger.codes, standin.client_secret]
    return found


def test_every_path_emits_its_event_and_no_body_holds_a_secret(
    make_app, standins, receiver, add_user, db_session_cookie
):
    app = make_app(**standins.settings(), **events_settings(receiver.url))
    creator = signed_in(app, add_user, db_session_cookie)

    walk_every_path(app, creator, standins)
    assert deliver(app) == f"delivered={len(EVERY_PATH)} retried=0 failed=0 gone=0"

    sent = bodies(app)
    assert [
        (b["type"], b["data"]["reason"], b["data"]["integration"]["provider"]) for b in sent
    ] == EVERY_PATH
    # Instagram's account was deleted at the end: once that event went, the outbox forgot it.
    assert [as_kept(d.event) for d in receiver.accepted] == sent
    secrets = every_secret(standins)
    assert len(secrets) > 30 and all(len(s) >= 16 for s in secrets)
    stored = "".join(row["body"] for row in outbox(app))
    received = "".join(str(d.request.headers) + d.request.body.decode() for d in receiver.accepted)
    assert [s for s in secrets if s in stored or s in received] == []


def as_kept(body: dict) -> dict:
    """An event as the outbox keeps it once sent: an Instagram one without the deleted account."""
    integration = body["data"]["integration"]
    if integration["provider"] == "instagram":
        integration = integration | {"accountId": None, "accountName": None}
    return body | {"data": body["data"] | {"integration": integration}}


def test_without_events_url_no_path_writes_an_event(
    make_app, standins, add_user, db_session_cookie
):
    app = make_app(**standins.settings())
    creator = signed_in(app, add_user, db_session_cookie)

    walk_every_path(app, creator, standins)

    assert outbox(app) == []
    result = app.test_cli_runner().invoke(args=["integrations", "deliver-events"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: EVENTS_URL is not set: there are no events to deliver"


@postgresql_only
def test_a_data_deletion_that_rolls_back_after_writing_its_events_leaves_none(
    make_app, standins, receiver, add_user, db_session_cookie, database_url
):
    app = make_app(**standins.settings(), **events_settings(receiver.url))
    creators = [signed_in(app, add_user, db_session_cookie, user_id) for user_id in (1, 2)]
    for creator in creators:  # two creators share the account: the first event is flushed
        connect_via_oauth(creator, "instagram")  # before the deletion is recorded
    signed, digest = meta_signed_request(standins.instagram)
    with psycopg.connect(database_url) as other:
        # The same request, recorded by a concurrent delivery that has not committed yet.
        other.execute(
            "INSERT INTO deletion_requests (confirmation_code, request_hash, provider, status, "
            "integrations_deleted, requested_at, completed_at) "
            "VALUES ('concurrent0001', %s, 'instagram', 'completed', 1, now(), now())",
            (digest,),
        )
        answer = in_thread(
            lambda: creators[0].post(
                "/api/webhooks/instagram/data-deletion", data={"signed_request": signed}
            )
        )
        pid = blocked_behind(database_url, other)
        assert holds_rows_of(
            database_url, pid, "outbox_events"
        )  # its event is written, uncommitted
        assert holds_rows_of(database_url, pid, "notices")
        other.commit()  # its own insert now violates the unique request hash: it rolls back

        response = answer()

    assert response.status_code == 200
    assert response.get_json()["confirmation_code"] == "concurrent0001"
    assert [b["type"] for b in bodies(app)] == ["integration.connected"] * 2
    for creator in creators:
        assert [i["provider"] for i in status_items(creator).values()] == ["instagram"]


@postgresql_only
def test_a_connect_waiting_for_another_of_the_same_new_account_records_one_event(
    make_app, receiver, add_user, db_session_cookie, database_url
):
    app = make_app(**events_settings(receiver.url))
    creator = signed_in(app, add_user, db_session_cookie)
    with psycopg.connect(database_url) as other:
        # The creator's other tab connects the same account and has not committed yet.
        other.execute(OTHER_TAB.replace("?", "now()"))
        answer = in_thread(lambda: connect_of1(creator))
        blocked_behind(database_url, other)  # behind the creator's row lock
        other.commit()

        response = answer()

    assert_updated_with_one_event(app, creator, response)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_connect_meeting_a_row_written_after_it_looked_updates_it_with_one_event(
    make_app, receiver, add_user, db_session_cookie, database_url
):
    app = make_app(**events_settings(receiver.url))
    creator = signed_in(app, add_user, db_session_cookie)
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the other tab's write lock: SQLite has no row locks
    other.execute(OTHER_TAB.replace("?", "'2026-12-01 10:00:00.000000'"))
    inserting = threading.Event()

    def watch(_conn, _cursor, statement: str, *_: object) -> None:
        if statement.startswith("INSERT INTO integrations"):
            inserting.set()

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", watch)
    try:
        answer = in_thread(lambda: connect_of1(creator))
        assert inserting.wait(10)  # it found no row, and now inserts one: it waits for the lock
        other.execute("COMMIT")  # ... and meets the other tab's row: a unique violation
        response = answer()
    finally:
        event.remove(engine, "before_cursor_execute", watch)
        other.close()

    assert_updated_with_one_event(app, creator, response)


OTHER_TAB = (
    "INSERT INTO integrations (user_id, provider, account_id, account_name, "
    "refresh_failures, created_at, updated_at) VALUES (1, 'onlyfans', 'of1', 'other tab', 0, ?, ?)"
)


def connect_of1(client):
    body = {"accountId": "of1", "accountName": "OF", "apiKey": KEYS[0]}
    return client.post("/api/integrations/connect/onlyfans", json=body)


def assert_updated_with_one_event(app, signed_in_client, response) -> None:
    """The connect updated the other tab's row; the attempt that met it left no event."""
    assert response.status_code == 200, response.get_json()
    [item] = status_items(signed_in_client).values()
    assert item["accountName"] == "OF"
    [body] = bodies(app)
    assert (body["type"], body["data"]["reason"]) == ("integration.connected", "reconnected")
    assert body["data"]["integration"] == item


@postgresql_only
def test_a_disconnect_waiting_for_another_of_the_same_account_is_404_with_no_event(
    make_app, receiver, add_user, db_session_cookie, database_url
):
    app = make_app(**events_settings(receiver.url))
    creator = signed_in(app, add_user, db_session_cookie)
    assert connect_of1(creator).status_code == 201
    with psycopg.connect(database_url) as other:
        # The creator's other tab disconnects the same account and has not committed yet.
        other.execute("DELETE FROM integrations WHERE account_id = 'of1'")
        answer = in_thread(lambda: creator.delete("/api/integrations/disconnect/onlyfans/of1"))
        blocked_behind(database_url, other)  # behind the other tab's row lock
        other.commit()

        response = answer()

    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["code"] == "NOT_FOUND"
    assert [body["type"] for body in bodies(app)] == ["integration.connected"]
