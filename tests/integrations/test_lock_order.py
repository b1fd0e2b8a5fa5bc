"""One lock order on PostgreSQL: the creators' `users` rows first (by id), then their
integrations. Meta's data deletion and a reconnect of the same account, each through its real
interface, wait for each other instead of deadlocking; a deadlock another client causes is
broken by PostgreSQL and the work it ended is run again."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from webapp.database import dispose_engines

from ..support.app import (
    TEST_DATABASE_URL,
    approved_at_provider,
    connect_via_oauth,
    fresh_postgres_database,
)
from ..support.events import meta_callback, status_items
from ..support.locks import blocked_behind, deadlocks, deadlocks_after, in_thread

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="row locks need PostgreSQL")
KEY = {"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_0123456789abcdef"}
CONFLICT_RETRY = "database conflict, retrying"


@pytest.fixture
def database_url() -> Iterator[str]:
    """A database of its own, so pg_stat_database counts this test's deadlocks alone. PostgreSQL
    looks for a deadlock once a backend has waited deadlock_timeout: 2 s leaves a loaded machine
    room to set up the other side of one first."""
    with fresh_postgres_database(deadlock_timeout="2s") as url:
        yield url


def signed_in(app, add_user, db_session_cookie, user_id: int):
    add_user(user_id)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(user_id))
    return client


def closed(app) -> None:
    """The app's connections closed: each backend reports its counts as it exits."""
    with app.app_context():
        dispose_engines()


def test_a_data_deletion_racing_a_reconnect_of_the_account_waits_and_never_deadlocks(
    provider_app, standins, add_user, db_session_cookie, database_url, logs
):
    creators = [signed_in(provider_app, add_user, db_session_cookie, n) for n in (1, 2)]
    for creator in creators:  # two creators hold the same Instagram account
        assert connect_via_oauth(creator, "instagram").status_code == 303
    [(second_row, _)] = status_items(creators[1]).items()
    back_from_instagram = approved_at_provider(creators[0], "instagram")  # the reconnect
    before = deadlocks(database_url)
    with psycopg.connect(database_url) as other:
        # Holds the second creator's row, so the deletion stops half way: it has taken its
        # first locks and waits for this one.
        other.execute("SELECT id FROM integrations WHERE id = %s FOR UPDATE", (second_row,))
        deletion = in_thread(
            lambda: meta_callback(provider_app.test_client(), standins.instagram, "data-deletion")
        )
        deleting = blocked_behind(database_url, other)
        reconnect = in_thread(lambda: creators[0].get(back_from_instagram))
        blocked_behind(database_url, deleting)  # the reconnect waits for the deletion
        other.commit()

        deleted, reconnected = deletion(), reconnect()

    assert deleted.status_code == 200, deleted.get_data(as_text=True)
    assert len(deleted.get_json()["confirmation_code"]) == 20
    # The reconnect came after the deletion: a new grant, stored as a new integration.
    assert reconnected.status_code == 303
    assert parse_qs(urlsplit(reconnected.headers["Location"]).query) == {"connected": ["instagram"]}
    [(row, item)] = status_items(creators[0]).items()
    assert item["status"] == "connected" and row != second_row
    assert status_items(creators[1]) == {}
    assert [r for r in logs if r.get("sqlstate")] == []
    closed(provider_app)
    assert deadlocks_after(database_url, before) == 0


def test_a_deadlock_another_client_causes_is_broken_and_the_connect_is_run_again(
    app, add_user, db_session_cookie, database_url, logs
):
    creator = signed_in(app, add_user, db_session_cookie, 1)
    assert creator.post("/api/integrations/connect/onlyfans", json=KEY).status_code == 201
    [row] = status_items(creator)
    before = deadlocks(database_url)
    with psycopg.connect(database_url) as other:
        other.execute("SET deadlock_timeout = '60s'")  # the connect waits first: its victim
        other.execute("SELECT id FROM integrations WHERE id = %s FOR UPDATE", (row,))
        renamed = KEY | {"accountName": "renamed"}
        answer = in_thread(lambda: creator.post("/api/integrations/connect/onlyfans", json=renamed))
        blocked_behind(database_url, other)  # it holds the creator's row, waits for this one
        # The other order: this waits for the connect, which waits for this. PostgreSQL ends
        # the connect's transaction, and this one goes on.
        other.execute("SELECT id FROM users WHERE id = 1 FOR UPDATE")
        other.commit()

        response = answer()

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["integration"]["accountName"] == "renamed"
    retried = [r for r in logs if r["message"] == CONFLICT_RETRY]
    assert [(r["level"], r["sqlstate"], r["attempt"]) for r in retried] == [("warning", "40P01", 1)]
    closed(app)
    assert deadlocks_after(database_url, before) == 1
