"""`deliver-events` against a real receiver: signed as Standard Webhooks, in order per
integration, retried with backoff for three days through every receiver fault, 410 final."""

from __future__ import annotations

import ssl
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import event
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webapp.extensions import db
from webapp.timeutil import utcnow

from ..support.app import TEST_DATABASE_URL
from ..support.deploy.tls import make_certificate
from ..support.events import (
    EVENTS_SECRET,
    NEXT_SECRET,
    cli,
    deliver,
    due_now,
    events_settings,
    outbox,
    sql,
)
from ..support.receiver import EventReceiver
from ..support.tcp import TcpStandIn

KEY = {"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_0123456789abcdef"}


@pytest.fixture
def events_app(make_app, receiver):
    return make_app(**events_settings(receiver.url))


@pytest.fixture
def events_client(events_app, add_user, db_session_cookie):
    add_user(1)
    client = events_app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    return client


def connect(client, account_id: str = "of1", name: str = "OF") -> None:
    body = KEY | {"accountId": account_id, "accountName": name}
    assert client.post("/api/integrations/connect/onlyfans", json=body).status_code in (200, 201)


def summary(delivered=0, retried=0, failed=0, gone=0) -> str:
    return f"delivered={delivered} retried={retried} failed={failed} gone={gone}"


def test_a_delivery_carries_the_outbox_body_signed_as_standard_webhooks(
    events_client, events_app, receiver
):
    connect(events_client)

    assert deliver(events_app) == summary(delivered=1)

    [row] = outbox(events_app)
    [got] = receiver.accepted
    assert got.request.body == row["body"].encode()
    headers = got.request.headers
    assert headers["webhook-id"] == row["webhook_id"]
    assert headers["content-type"] == "application/json"
    assert abs(utcnow().timestamp() - int(headers["webhook-timestamp"])) < 60
    assert (
        headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    )
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    assert row["delivered_at"] is not None
    assert deliver(events_app) == summary()  # nothing twice


def test_a_receiver_down_then_failing_then_back_gets_every_event_once_in_order(
    events_client, events_app, receiver
):
    connect(events_client, "a")
    connect(events_client, "a", "renamed")
    connect(events_client, "b")
    receiver.go_down()

    assert deliver(events_app) == summary(retried=2)  # one head per integration; "a" waits
    receiver.come_back()
    receiver.answer_next(500, times=2)
    due_now(events_app)
    assert deliver(events_app) == summary(retried=2)
    due_now(events_app)
    assert deliver(events_app) == summary(delivered=3)

    rows = outbox(events_app)
    assert [(r["status"], r["attempts"]) for r in rows] == [
        ("delivered", 3),
        ("delivered", 1),
        ("delivered", 3),
    ]
    a_new, a_renamed, b_new = (r["webhook_id"] for r in rows)
    # Each retry carries the event's webhook-id; "a" renamed waits for "a" new to go first.
    assert [d.webhook_id for d in receiver.deliveries] == [a_new, b_new, a_new, a_renamed, b_new]
    assert [d.webhook_id for d in receiver.accepted] == [a_new, a_renamed, b_new]


def test_retries_wait_a_minute_doubling_to_six_hours(events_client, events_app, receiver):
    connect(events_client)
    receiver.go_down()
    waits = []
    for _ in range(11):
        before = utcnow()
        assert deliver(events_app) == summary(retried=1)
        after = utcnow()
        [row] = outbox(events_app)
        waits.append((row["next_attempt_at"] - after, row["next_attempt_at"] - before))
        due_now(events_app)

    minutes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]
    for (shortest, longest), expected in zip(waits, minutes, strict=True):
        assert shortest <= timedelta(minutes=expected) <= longest


def test_after_three_days_an_event_is_failed_kept_listed_and_later_ones_still_go(
    events_client, events_app, receiver
):
    connect(events_client)
    receiver.go_down()
    assert deliver(events_app) == summary(retried=1)
    sql(events_app, "UPDATE outbox_events SET created_at = :t", t=utcnow() - timedelta(days=3))
    due_now(events_app)

    assert deliver(events_app) == summary(failed=1)

    [row] = outbox(events_app)
    assert (row["status"], row["attempts"], row["last_error"]) == ("failed", 2, "ConnectionError")
    listed = cli(events_app, "integrations", "events", "--failed")
    assert row["webhook_id"] in listed and "status=failed" in listed
    assert "integration.connected" in listed and "error=ConnectionError" in listed
    assert cli(events_app, "integrations", "events") == "no pending events"
    receiver.come_back()
    connect(events_client, name="later")
    assert deliver(events_app) == summary(delivered=1)
    assert [d.event["data"]["integration"]["accountName"] for d in receiver.accepted] == ["later"]


def test_a_410_stops_that_event_for_good_and_the_integrations_next_events_still_go(
    events_client, events_app, receiver, logs
):
    connect(events_client)
    connect(events_client, name="renamed")
    receiver.answer_next(410)

    assert deliver(events_app) == summary(delivered=1, gone=1)
    due_now(events_app)
    assert deliver(events_app) == summary()

    first, second = outbox(events_app)
    assert (first["status"], first["attempts"], first["last_error"]) == ("gone", 1, "HTTP 410")
    assert second["status"] == "delivered"
    assert [d.webhook_id for d in receiver.deliveries] == [
        first["webhook_id"],
        second["webhook_id"],
    ]
    [logged] = [line for line in logs if "410" in line["message"]]
    assert logged["level"] == "warning" and logged["webhookId"] == first["webhook_id"]
    assert first["webhook_id"] in cli(events_app, "integrations", "events", "--failed")


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("500", "HTTP 500"),
        ("429", "HTTP 429"),
        ("302", "HTTP 302"),
        ("slow", "ReadTimeout"),
    ],
)
def test_a_failing_receiver_gets_the_event_again_later_and_loses_nothing(
    events_client, events_app, receiver, fault, error
):
    connect(events_client)
    if fault == "slow":
        receiver.slow_next(3.0)
    else:
        elsewhere = {"Location": receiver.url.replace("/events", "/elsewhere")}
        receiver.answer_next(int(fault), headers=elsewhere | {"Retry-After": "1"})

    assert deliver(events_app) == summary(retried=1)
    [row] = outbox(events_app)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, error)
    assert row["next_attempt_at"] > utcnow() + timedelta(seconds=50)
    assert deliver(events_app) == summary()  # not due yet
    due_now(events_app)
    assert deliver(events_app) == summary(delivered=1)

    assert [d.request.path for d in receiver.deliveries] == ["/events", "/events"]  # no redirect
    assert [d.webhook_id for d in receiver.deliveries] == [row["webhook_id"]] * 2
    assert len(receiver.accepted) == 1


def test_the_status_endpoint_makes_no_attempt_at_delivery(make_app, add_user, db_session_cookie):
    hung = TcpStandIn("silent")  # accepts, never answers: what a dead receiver often is
    try:
        app = make_app(**events_settings(f"http://127.0.0.1:{hung.port}/events"))
        add_user(1)
        client = app.test_client()
        client.set_cookie("next-auth.session-token", db_session_cookie(1))
        connect(client)
        for _ in range(3):
            assert client.get("/api/integrations/status").status_code == 200
        assert hung.accepted == 0

        assert deliver(app) == summary(retried=1)  # the deliverer, and only it, tries

        assert hung.accepted == 1
        assert outbox(app)[0]["last_error"] == "ReadTimeout"
    finally:
        hung.close()


def test_every_events_secret_signs_while_rotating(make_app, add_user, db_session_cookie):
    with EventReceiver(NEXT_SECRET) as receiver:
        app = make_app(**events_settings(receiver.url, f"{NEXT_SECRET} {EVENTS_SECRET}"))
        add_user(1)
        client = app.test_client()
        client.set_cookie("next-auth.session-token", db_session_cookie(1))
        connect(client)

        assert deliver(app) == summary(delivered=1)

    [got] = receiver.accepted
    signatures = got.request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret in (NEXT_SECRET, EVENTS_SECRET):  # a receiver knowing either one verifies
        assert Webhook(secret).verify(got.request.body, got.request.headers) == got.event
    stranger = "whsec_" + "c3RyYW5nZXItc2VjcmV0LW9mLTMyLWJ5dGVzISE="
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(got.request.body, got.request.headers)


def test_an_https_receiver_gets_its_events_once_its_certificate_verifies(
    make_app, add_user, db_session_cookie, tmp_path, monkeypatch
):
    cert, key = make_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with EventReceiver(EVENTS_SECRET, tls=tls) as receiver:
        app = make_app(**events_settings(receiver.url))
        add_user(1)
        client = app.test_client()
        client.set_cookie("next-auth.session-token", db_session_cookie(1))
        connect(client)

        assert deliver(app) == summary(retried=1)  # a certificate the system does not trust
        [row] = outbox(app)
        assert row["last_error"] == "SSLError" and receiver.deliveries == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # as README says: another CA bundle
        due_now(app)
        assert deliver(app) == summary(delivered=1)

    assert receiver.url.startswith("https://")
    assert [d.webhook_id for d in receiver.accepted] == [row["webhook_id"]]


def test_an_events_url_ending_in_a_slash_is_posted_to_as_given(
    make_app, add_user, db_session_cookie
):
    with EventReceiver(EVENTS_SECRET, path="/hooks/integrations/") as receiver:
        app = make_app(**events_settings(receiver.url))
        add_user(1)
        client = app.test_client()
        client.set_cookie("next-auth.session-token", db_session_cookie(1))
        connect(client)

        assert deliver(app) == summary(delivered=1)

    assert [d.request.path for d in receiver.deliveries] == ["/hooks/integrations/"]


def test_metrics_count_the_outbox_by_type_and_the_oldest_pending_age(
    events_client, events_app, receiver
):
    connect(events_client, "a")
    connect(events_client, "b")
    receiver.answer_next(410)
    assert deliver(events_app) == summary(delivered=1, gone=1)
    connect(events_client, "c")
    receiver.go_down()
    deliver(events_app)
    sql(events_app, "UPDATE outbox_events SET created_at = :t", t=utcnow() - timedelta(days=3))
    due_now(events_app)
    assert deliver(events_app) == summary(failed=1)
    connect(events_client, "d")
    events_client.delete("/api/integrations/disconnect/onlyfans/d")
    oldest = utcnow() - timedelta(hours=1)
    sql(events_app, "UPDATE outbox_events SET created_at = :t WHERE status = 'pending'", t=oldest)

    figures = metrics(events_client)

    rows = outbox(events_app)
    assert sorted(r["status"] for r in rows) == [
        "delivered",
        "failed",
        "gone",
        "pending",
        "pending",
    ]
    for type_ in ("integration.connected", "integration.expired", "integration.disconnected"):
        of_type = [r["status"] for r in rows if r["type"] == type_]
        assert figures[f'integrations_events_emitted_total{{type="{type_}"}}'] == len(of_type)
        assert figures[f'integrations_events_delivered_total{{type="{type_}"}}'] == (
            of_type.count("delivered")
        )
        assert figures[f'integrations_events_failed_total{{type="{type_}"}}'] == (
            of_type.count("failed") + of_type.count("gone")
        )
        assert figures[f'integrations_events_pending{{type="{type_}"}}'] == of_type.count("pending")
    age = figures["integrations_events_pending_oldest_age_seconds"]
    assert 3600 <= age <= (utcnow() - oldest).total_seconds()


def metrics(client) -> dict[str, float]:
    """/metrics of the events, by series name and labels."""
    text = client.get("/metrics").get_data(as_text=True)
    lines = [line for line in text.splitlines() if line.startswith("integrations_events_")]
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines}


# Delivered events, as a busy platform's months leave them, and a few pending, written with
# SQL; outbox_totals counts the settled ones as deliver-events does.
MANY = """
INSERT INTO outbox_events (webhook_id, integration_id, user_id, type, body, status, attempts,
  next_attempt_at, created_at, delivered_at)
SELECT 'msg_' || md5(n::text), n, 1, 'integration.connected', '{}',
  CASE WHEN n <= 5 THEN 'pending' ELSE 'delivered' END, 1, now(), now(), now()
FROM generate_series(1, 50000) n
"""
SETTLED = """
INSERT INTO outbox_totals (type, status, total)
SELECT type, status, count(*) FROM outbox_events WHERE status <> 'pending' GROUP BY type, status
"""


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL's plans and row counts")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_scrape_reads_the_totals_and_the_pending_events_never_the_whole_outbox(
    events_client, events_app, database_url
):
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(MANY)
        admin.execute(SETTLED)
        admin.execute("ANALYZE outbox_events")  # as autovacuum keeps it

    sent, figures = statements_during(events_app, lambda: metrics(events_client))

    connected = 'integrations_events_{}{{type="integration.connected"}}'
    assert figures[connected.format("emitted_total")] == 50_000
    assert figures[connected.format("delivered_total")] == 49_995
    assert figures[connected.format("pending")] == 5
    of_outbox = [(sql, params) for sql, params in sent if "outbox_events" in sql]
    assert len(of_outbox) == 2  # the counts, the oldest pending event
    with psycopg.connect(database_url) as admin:  # the same statements, run again and measured
        for statement, params in of_outbox:
            [[plan]] = admin.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", params)
            read = [
                n for n in plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "outbox_events"
            ]
            assert read and all(n["Node Type"] != "Seq Scan" for n in read), statement
            assert sum(n["Actual Rows"] for n in read) <= 5, statement  # the pending ones


def statements_during(app, work):
    """The SQL (and parameters) the app sends while `work` runs, and what `work` returned."""
    sent: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, *_: object) -> None:
        sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        return sent, work()
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def plan_nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", []) for n in plan_nodes(child))]
