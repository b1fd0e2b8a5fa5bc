"""`deliver-events` as operators run it: two at once from cron, or one `--follow` service that
stops on SIGTERM. Real processes against the test database and a real receiver."""

from __future__ import annotations

import itertools
import os
import signal
import time

import pytest

from ..support.app import TEST_DATABASE_URL
from ..support.events import deliverer, events_settings, outbox


def signed_in(app, add_user, db_session_cookie, user_id: int):
    add_user(user_id)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(user_id))
    return client


def connect(client, name: str) -> None:
    body = {"accountId": "of1", "accountName": name, "apiKey": "ofapi_0123456789abcdef"}
    assert client.post("/api/integrations/connect/onlyfans", json=body).status_code in (200, 201)


def summary(delivered: int) -> str:
    return f"delivered={delivered} retried=0 failed=0 gone=0"


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="row locks need PostgreSQL")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_deliverers_at_once_send_each_event_once_in_order_per_integration(
    make_app, receiver, add_user, db_session_cookie, base_env
):
    settings = events_settings(receiver.url) | {"EVENTS_TIMEOUT_MS": "60000"}
    app = make_app(**settings)
    for user_id in (1, 2, 3, 4):
        client = signed_in(app, add_user, db_session_cookie, user_id)
        for name in ("first", "second", "third"):
            connect(client, name)
    receiver.together = 2  # neither is answered until both deliverers are sending at once
    receiver.hold_s = 0.1

    runs = [deliverer({**os.environ, **base_env, **settings}) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    delivered = [int(out.split()[0].removeprefix("delivered=")) for out, _ in outputs]
    assert sum(delivered) == 12 and min(delivered) > 0, outputs
    assert receiver.most_at_once == 2
    rows = outbox(app)
    assert {row["status"] for row in rows} == {"delivered"}
    assert len(receiver.deliveries) == len(receiver.accepted) == 12  # none sent twice
    for integration_id in {row["integration_id"] for row in rows}:
        ids = [r["webhook_id"] for r in rows if r["integration_id"] == integration_id]
        got = [d for d in receiver.accepted if d.webhook_id in ids]
        assert [d.webhook_id for d in got] == ids  # in order
        for earlier, later in itertools.pairwise(got):
            assert earlier.ended is not None and later.started >= earlier.ended  # one at a time


def test_follow_delivers_what_is_written_after_it_started_and_stops_cleanly_on_sigterm(
    make_app, receiver, add_user, db_session_cookie, base_env
):
    settings = events_settings(receiver.url) | {"EVENTS_TIMEOUT_MS": "5000"}
    app = make_app(**settings)
    client = signed_in(app, add_user, db_session_cookie, 1)
    run = deliverer({**os.environ, **base_env, **settings}, "--follow", "--interval", "0.2")
    try:
        time.sleep(1.0)  # it starts, and finds nothing to send
        connect(client, "first")
        assert len(receiver.wait_for(1)) == 1
        receiver.hold_s = 1.5  # the next delivery is in flight when SIGTERM arrives
        connect(client, "second")
        deadline = time.monotonic() + 20
        while len(receiver.deliveries) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=20)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    assert run.returncode == 0, err
    rounds = out.splitlines()  # one line per round that sent something (1 + 1, or 2 at once)
    assert rounds in ([summary(1)] * 2, [summary(2)]), out
    assert [row["status"] for row in outbox(app)] == ["delivered", "delivered"]
    assert len(receiver.deliveries) == len(receiver.accepted) == 2
