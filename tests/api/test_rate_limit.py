"""Per-user rate limits on the status endpoint, with memory and Redis storage."""

from __future__ import annotations

import time

import pytest

from ..support.app import LIMIT_STORAGES, TEST_REDIS_URL

URL = "/api/integrations/status"


@pytest.fixture(params=LIMIT_STORAGES)
def limited_app(request, make_app):
    storage = TEST_REDIS_URL if request.param == "redis" else "memory://"
    return make_app(RATELIMIT_STORAGE_URI=storage)


@pytest.fixture
def signed_in_limited_client(limited_app, add_user, db_session_cookie):
    """A test client of limited_app, signed in as user 1."""
    add_user(1, [{"provider": "reddit", "account_id": "r", "account_name": "u/r"}])
    client = limited_app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    return client


def test_sixty_first_request_in_a_minute_gets_429(signed_in_limited_client):
    responses = [signed_in_limited_client.get(URL) for _ in range(61)]

    assert [r.status_code for r in responses[:60]] == [200] * 60
    refused = responses[60]
    assert refused.status_code == 429
    assert refused.get_json() == {
        "success": False,
        "error": {
            "code": "RATE_LIMIT_EXCEEDED",
            "message": "Too many requests. Please try again later.",
        },
    }
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["Cache-Control"] == "private, no-cache, no-store, must-revalidate"
    assert refused.headers["X-Correlation-Id"]


def test_rate_limit_headers_count_down_on_every_response(signed_in_limited_client):
    first, second = signed_in_limited_client.get(URL), signed_in_limited_client.get(URL)

    assert first.headers["X-RateLimit-Limit"] == "60"
    assert first.headers["X-RateLimit-Remaining"] == "59"
    assert second.headers["X-RateLimit-Remaining"] == "58"
    reset = int(first.headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    assert "Retry-After" not in first.headers


def test_each_user_has_their_own_budget(limited_app, add_user, db_session_cookie):
    add_user(1)
    add_user(2)
    alice, bob = limited_app.test_client(), limited_app.test_client()
    alice.set_cookie("next-auth.session-token", db_session_cookie(1))
    bob.set_cookie("next-auth.session-token", db_session_cookie(2))

    for _ in range(60):
        alice.get(URL)

    assert alice.get(URL).status_code == 429
    assert bob.get(URL).status_code == 200


def test_same_user_shares_one_budget_across_sessions(limited_app, add_user, db_session_cookie):
    add_user(1)
    phone, laptop = limited_app.test_client(), limited_app.test_client()
    phone.set_cookie("next-auth.session-token", db_session_cookie(1))
    laptop.set_cookie("next-auth.session-token", db_session_cookie(1))

    for _ in range(30):
        phone.get(URL)
        laptop.get(URL)

    assert phone.get(URL).status_code == 429


def test_signed_out_requests_are_limited_by_client_ip_at_their_own_limit(make_app):
    app = make_app(ANONYMOUS_RATE_LIMIT="5 per minute")
    client = app.test_client()

    codes = [client.get(URL).status_code for _ in range(6)]
    other_ip = client.get(URL, environ_base={"REMOTE_ADDR": "10.9.8.7"})

    assert codes == [401] * 5 + [429]
    assert other_ip.status_code == 401
    assert other_ip.headers["X-RateLimit-Limit"] == "5"


def test_configured_limit_applies(make_app, add_user, db_session_cookie):
    app = make_app(STATUS_RATE_LIMIT="3 per minute")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))

    codes = [client.get(URL).status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


def test_forwarded_for_is_ignored_without_a_trusted_proxy(make_app):
    app = make_app(ANONYMOUS_RATE_LIMIT="2 per minute")
    client = app.test_client()

    codes = [
        client.get(URL, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(3)
    ]

    assert codes == [401, 401, 429]


def test_forwarded_for_from_one_trusted_proxy_identifies_the_client(make_app):
    app = make_app(ANONYMOUS_RATE_LIMIT="2 per minute", TRUSTED_PROXY_COUNT="1")
    client = app.test_client()

    spoofed = [
        client.get(URL, headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.9"}).status_code
        for n in range(3)
    ]

    # Only the address nginx appended counts: prepending fake hops does not reset the count.
    assert spoofed == [401, 401, 429]


def test_redis_down_falls_back_to_counting_in_memory(make_app, add_user, db_session_cookie):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app = make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port}/0")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))

    codes = [client.get(URL).status_code for _ in range(61)]

    assert codes == [200] * 60 + [429]


def test_each_endpoint_has_its_own_budget(make_app, add_user, db_session_cookie):
    app = make_app(STATUS_RATE_LIMIT="2 per minute")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))

    status = [client.get(URL).status_code for _ in range(3)]
    page = client.get("/integrations")

    assert status == [200, 200, 429]
    assert page.status_code == 200
    assert page.headers["X-RateLimit-Remaining"] == "1"


def test_a_refused_oauth_callback_lands_on_the_page_with_the_message(
    make_app, add_user, db_session_cookie
):
    app = make_app(STATUS_RATE_LIMIT="1 per minute")
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    client.get("/api/integrations/callback/reddit?code=c&state=s")

    refused = client.get("/api/integrations/callback/reddit?code=c&state=s")

    assert refused.status_code == 303
    assert refused.headers["Location"] == "/integrations?error=rate_limited&provider=reddit"
    assert refused.headers["Retry-After"]


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs TEST_REDIS_URL")
def test_a_limited_request_costs_one_redis_command(make_app, add_user, db_session_cookie):
    """The count and the window for the headers come back from the one call that counts."""
    import redis

    app = make_app(RATELIMIT_STORAGE_URI=TEST_REDIS_URL)
    prefix = app.config["RATELIMIT_KEY_PREFIX"]
    add_user(1)
    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    client.get(URL)  # the first request loads the script into Redis
    server = redis.Redis.from_url(TEST_REDIS_URL)
    with server.monitor() as monitor:
        second, third = client.get(URL), client.get(URL)
        server.echo(f"{prefix} done")
        seen = []
        while (command := monitor.next_command())["command"] != f"ECHO {prefix} done":
            if prefix in command["command"] and command["client_type"] != "lua":
                seen.append(command["command"].split()[0])

    assert (second.headers["X-RateLimit-Remaining"], third.headers["X-RateLimit-Remaining"]) == (
        "58",
        "57",
    )
    assert seen == ["EVALSHA", "EVALSHA"]
