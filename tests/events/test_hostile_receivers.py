"""`deliver-events` against receivers that never finish answering, answer without end, or meet
a database that goes away: every attempt ends within EVENTS_TIMEOUT_MS whatever the receiver
does, reads no more of an answer than its status needs, and `--follow` rides out database
outages and honours SIGTERM within that bound. Real processes, a real receiver, real databases.
"""

from __future__ import annotations

import json
import os
import signal
import time
from urllib.parse import urlsplit

import psycopg
import pytest

from webapp import create_app
from webapp.database import dispose_engines

from ..support.app import TEST_DATABASE_URL, service_env
from ..support.events import DELIVER, deliver, deliverer, due_now, events_settings, outbox
from ..support.processes import run_to_exit
from ..support.tcp import TcpStandIn, at_port, closed_port

TIMEOUT_S = 2.0  # EVENTS_TIMEOUT_MS, as in production-like runs that found the hang
STARTUP_S = 8.0  # a process's own start (importing the app) on a loaded machine, at most
RETRIED = "delivered=0 retried=1 failed=0 gone=0"
DELIVERED = "delivered=1 retried=0 failed=0 gone=0"
KEY = {"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_0123456789abcdef"}

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
needs_postgresql = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL")


@pytest.fixture
def settings(receiver) -> dict[str, str]:
    return events_settings(receiver.url) | {"EVENTS_TIMEOUT_MS": str(int(TIMEOUT_S * 1000))}


@pytest.fixture
def creator(make_app, settings, add_user, db_session_cookie):
    app = make_app(**settings)
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    return client


def connect(client, account_id: str = "of1") -> None:
    body = KEY | {"accountId": account_id}
    assert client.post("/api/integrations/connect/onlyfans", json=body).status_code in (200, 201)


def process_env(base_env: dict[str, str], settings: dict[str, str], **more: str) -> dict[str, str]:
    return {**os.environ, **base_env, **settings, "PYTHONUNBUFFERED": "1", **more}


def wait_until(check, timeout: float, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(every)
    return found


@pytest.mark.parametrize(
    ("part", "summary", "error"),
    [("headers", RETRIED, "ReadTimeout"), ("body", DELIVERED, None)],
)
def test_a_receiver_trickling_its_answer_a_byte_a_second_holds_a_run_no_longer_than_the_timeout(
    creator, make_app, settings, receiver, base_env, part, summary, error
):
    connect(creator)
    receiver.trickle_next(part)

    run = run_to_exit(DELIVER, process_env(base_env, settings), timeout=TIMEOUT_S + STARTUP_S)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == summary
    [row] = outbox(make_app(**settings))
    assert (row["attempts"], row["last_error"]) == (1, error)
    [delivery] = receiver.deliveries
    assert delivery.hung_up is not None  # the sender closed the connection, mid-answer
    held = delivery.hung_up - delivery.started
    print(f"a receiver trickling its {part} held the attempt {held:.2f} s")
    # A 200's status is enough: its trickling body is never waited for. Headers that never
    # end are given up on at the deadline, counted from before the connection was made.
    if part == "body":
        assert held < 1.0, held
    else:
        assert TIMEOUT_S - 0.2 <= held < TIMEOUT_S + 0.5, held


def test_headers_that_never_end_are_read_to_64_kb_and_the_event_retried(
    creator, make_app, settings, receiver
):
    connect(creator)
    receiver.trickle_next("headers", every=0)  # as fast as they are read

    assert deliver(make_app(**settings)) == RETRIED

    [row] = outbox(make_app(**settings))
    assert (row["attempts"], row["last_error"]) == (1, "AnswerTooLarge")
    assert len(receiver.deliveries) == 1


@needs_postgresql
@on_postgresql
def test_follow_gives_up_at_the_deadline_commits_and_honours_sigterm_within_it(
    creator, make_app, settings, receiver, base_env, database_url
):
    app = make_app(**settings)
    connect(creator)
    receiver.trickle_next("headers")
    name = "deliverer-under-test"
    env = process_env(base_env, settings, DATABASE_URL=f"{database_url}&application_name={name}")
    run = deliverer(env, "--follow", "--interval", "0.2")
    try:
        assert wait_until(lambda: receiver.deliveries, timeout=STARTUP_S)
        sent = time.monotonic()
        [row] = wait_until(lambda: [r for r in outbox(app) if r["attempts"]], TIMEOUT_S + 5)
        given_up_after = time.monotonic() - sent
        assert row["last_error"] == "ReadTimeout" and row["status"] == "pending"
        # Recorded and committed: no transaction (and no row lock) of it is left open.
        assert open_transactions(name) == 0
        receiver.trickle_next("headers")
        due_now(app)
        assert wait_until(lambda: len(receiver.deliveries) == 2, timeout=5)
        signalled = time.monotonic()
        run.send_signal(signal.SIGTERM)  # while the second attempt trickles
        out, err = run.communicate(timeout=TIMEOUT_S + 10)
        stopped_after = time.monotonic() - signalled
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    print(f"given up and recorded after {given_up_after:.2f} s; stopped {stopped_after:.2f} s")
    assert given_up_after < TIMEOUT_S + 1.0, given_up_after
    assert run.returncode == 0, err
    assert stopped_after < TIMEOUT_S + 1.5, stopped_after  # and the interpreter's own exit
    assert summaries(out) == [RETRIED, RETRIED]  # the attempt in flight ended and was recorded
    [row] = outbox(app)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 2, "ReadTimeout")


def open_transactions(application_name: str) -> int:
    """Backends of this application name with a transaction open, from pg_stat_activity."""
    assert TEST_DATABASE_URL
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as observer:
        found = observer.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND xact_start IS NOT NULL",
            (application_name,),
        ).fetchone()
    assert found is not None
    return int(found[0])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # memory, not the database
def test_a_400_mb_answer_is_not_read_and_does_not_grow_the_process(
    creator, make_app, settings, receiver, base_env
):
    env = process_env(base_env, settings)
    connect(creator, "a")
    usual = run_to_exit(DELIVER, env, timeout=STARTUP_S + 5)  # a 204, as receivers answer
    connect(creator, "b")
    receiver.huge_next(400 * 2**20)

    huge = run_to_exit(DELIVER, env, timeout=STARTUP_S + 30)

    print(f"peak RSS: {usual.peak_rss_mib:.0f} MiB (a 204), {huge.peak_rss_mib:.0f} MiB (400 MB)")
    assert huge.peak_rss_mib < usual.peak_rss_mib + 16
    assert (usual.returncode, huge.returncode) == (0, 0), huge.stderr
    assert summaries(usual.stdout) == summaries(huge.stdout) == [DELIVERED]
    assert [row["status"] for row in outbox(make_app(**settings))] == ["delivered"] * 2
    delivery = receiver.deliveries[-1]
    assert delivery.hung_up is not None and delivery.sent_bytes < 64 * 2**20


@needs_postgresql
@on_postgresql
def test_follow_rides_out_a_database_outage_and_delivers_what_comes_after(
    creator, make_app, settings, receiver, base_env, database_url
):
    app = make_app(**settings)
    assert TEST_DATABASE_URL
    real = urlsplit(TEST_DATABASE_URL)
    database = TcpStandIn("forward", upstream=(real.hostname or "127.0.0.1", real.port or 5432))
    env = process_env(base_env, settings, DATABASE_URL=at_port(database_url, database.port))
    run = deliverer(env, "--follow", "--interval", "0.2")
    try:
        connect(creator, "first")
        assert wait_until(lambda: statuses(app) == ["delivered"], timeout=STARTUP_S)
        database.switch("hang_up")  # the database goes away: connections cut, new ones dropped
        time.sleep(3.0)  # rounds fail meanwhile
        database.switch("forward")
        connect(creator, "second")
        assert wait_until(lambda: statuses(app) == ["delivered"] * 2, timeout=15)
        assert run.poll() is None  # it kept running throughout
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=15)
    finally:
        database.close()
        if run.poll() is None:
            run.kill()
            run.communicate()

    assert run.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out
    assert summaries(out) == [DELIVERED, DELIVERED]
    assert len(receiver.accepted) == 2
    paused = [line for line in log_lines(out) if line["logger"] == "webapp.events"]
    assert paused, out
    assert {line["message"] for line in paused} == {"database unavailable, delivery paused"}
    assert all(line["level"] == "warning" and "sqlstate" in line for line in paused)
    waits = [line["retryInS"] for line in paused]
    assert waits == sorted(waits) and waits[0] > 0  # backing off, not spinning
    assert len(paused) < 10


def test_a_run_without_follow_that_finds_no_database_says_so_in_one_line(receiver):
    unreachable = f"postgresql://postgres@127.0.0.1:{closed_port()}/test"
    app = create_app(service_env(unreachable, **events_settings(receiver.url)))

    result = app.test_cli_runner().invoke(args=["integrations", "deliver-events"])

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "delivered=0 retried=0 failed=0 gone=0",
        "Error: the database failed: OperationalError",
    ]
    with app.app_context():
        dispose_engines()


def statuses(app) -> list[str]:
    return [row["status"] for row in outbox(app)]


def summaries(out: str) -> list[str]:
    """The lines `deliver-events` prints for rounds that sent something (the rest is logs)."""
    return [line for line in out.splitlines() if line.startswith("delivered=")]


def log_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]
