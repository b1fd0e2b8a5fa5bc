"""Operator endpoints and the Redis-down policy: /livez, /readyz, /metrics."""

from __future__ import annotations

import time

import pytest
import redis

from webapp import create_app

from ..support.app import TEST_REDIS_URL
from ..support.tcp import TcpStandIn, closed_port


def database_down_app(base_env):
    return create_app(
        {**base_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port()}/none"}
    )


def test_livez_answers_without_dependencies(base_env):
    app = database_down_app(base_env)

    response = app.test_client().get("/livez")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "private, no-cache, no-store, must-revalidate"


def test_readyz_is_ok_when_database_and_limit_storage_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "rateLimitStorage": "ok"},
    }


def test_readyz_names_an_unreachable_database(base_env):
    app = database_down_app(base_env)
    started = time.monotonic()

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "unreachable", "rateLimitStorage": "ok"}
    assert time.monotonic() - started < 2


def test_readyz_names_an_unreachable_rate_limit_storage(make_app):
    app = make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/0")

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "rateLimitStorage": "unreachable"}


def test_metrics_count_requests_by_endpoint_and_status(client, add_user, db_session_cookie):
    add_user(
        1, [{"provider": "tiktok", "account_id": "t", "account_name": "@t", "expires_at": None}]
    )
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    before = _sample(client, _status_count_200)

    client.get("/api/integrations/status")
    client.get("/api/integrations/status")
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert _sample(client, _status_count_200) == before + 2
    body = response.get_data(as_text=True)
    for name in (
        "integrations_http_request_duration_seconds_bucket",
        "integrations_db_retries_total",
        "integrations_expired_seen_total",
        "integrations_token_refresh_total",
        "integrations_http_errors_total",
    ):
        assert name in body


def test_errors_are_counted_by_code(client):
    before = _sample(client, _unauthorized_errors)

    client.get("/api/integrations/status")

    assert _sample(client, _unauthorized_errors) == before + 1


def test_ops_endpoints_are_not_rate_limited(make_app):
    client = make_app(ANONYMOUS_RATE_LIMIT="2 per minute").test_client()

    responses = [client.get(path) for path in ["/metrics", "/livez", "/readyz"] * 5]

    assert {r.status_code for r in responses} == {200}
    assert all("X-RateLimit-Limit" not in r.headers for r in responses)


_status_count_200 = (
    'integrations_http_request_duration_seconds_count{endpoint="api.integrations_status",'
    'method="GET",status="200"}'
)
_unauthorized_errors = (
    'integrations_http_errors_total{code="UNAUTHORIZED",endpoint="api.integrations_status"}'
)


def _sample(client, series: str) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis: set TEST_REDIS_URL")
def test_limits_resume_in_redis_when_it_comes_back(make_app, add_user, db_session_cookie, base_env):
    target = redis.Redis.from_url(TEST_REDIS_URL)
    host, port = (
        target.connection_pool.connection_kwargs["host"],
        target.connection_pool.connection_kwargs["port"],
    )
    proxy = TcpStandIn("forward", upstream=(host, port))
    try:
        app = make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{proxy.port}/0")
        add_user(1)
        client = app.test_client()
        client.set_cookie("next-auth.session-token", db_session_cookie(1))
        prefix = base_env["RATELIMIT_KEY_PREFIX"]
        assert client.get("/api/integrations/status").status_code == 200
        assert target.keys(f"*{prefix}*")

        proxy.switch("hang_up")
        target.delete(*target.keys(f"*{prefix}*"))
        down = [client.get("/api/integrations/status") for _ in range(3)]
        assert [r.status_code for r in down] == [200, 200, 200]  # counted in memory meanwhile
        assert target.keys(f"*{prefix}*") == []

        proxy.switch("forward")
        deadline = time.monotonic() + 15
        while not target.keys(f"*{prefix}*") and time.monotonic() < deadline:
            assert client.get("/api/integrations/status").status_code == 200
            time.sleep(0.2)
        assert target.keys(f"*{prefix}*"), "the limiter never went back to Redis"
    finally:
        proxy.close()
        target.close()
