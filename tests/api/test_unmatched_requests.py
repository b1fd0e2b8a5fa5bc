"""Requests no route matches: bounded metrics labels, and one budget per client IP."""

from __future__ import annotations

import random
import string

from webapp import create_app

from ..support.app import service_env

URL = "/api/integrations/status"


def metrics_lines(client) -> list[str]:
    return client.get("/metrics").get_data(as_text=True).splitlines()


def invented_request(client, rng: random.Random):
    """A request with a made-up method, to a made-up path or to one that exists."""
    method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
    path = rng.choice([URL, "/integrations", f"/{rng.getrandbits(64):x}", f"/api/{rng.random()}"])
    return client.open(path, method=method)


def test_invented_methods_and_paths_do_not_grow_the_metrics(tmp_path):
    # No database work: one backend is enough for the thousands of requests.
    env = service_env(f"sqlite:///{tmp_path / 'unused.db'}", ANONYMOUS_RATE_LIMIT="100000/minute")
    client = create_app(env).test_client()
    rng = random.Random(11)
    for _ in range(50):  # every kind of answer once: 404 and 405, from every kind of path
        invented_request(client, rng)
    metrics_lines(client)  # the scrape's own series
    before = metrics_lines(client)

    statuses = {invented_request(client, rng).status_code for _ in range(2000)}
    after = metrics_lines(client)

    assert statuses == {404, 405}
    assert abs(len(after) - len(before)) <= 3, set(after) ^ set(before)
    assert not [line for line in after if 'method="' in line and _invented(line)]


def _invented(line: str) -> bool:
    method = line.split('method="', 1)[1].split('"', 1)[0]
    return method not in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def test_unmatched_requests_are_labelled_unmatched_and_other(make_app):
    client = make_app().test_client()

    client.open("/no-such-page", method="BREW")
    client.open(URL, method="BREW")
    lines = metrics_lines(client)

    for status in ("404", "405"):
        series = (
            'integrations_http_request_duration_seconds_count{endpoint="unmatched",'
            f'method="other",status="{status}"}}'
        )
        assert any(line.startswith(series) for line in lines), status


def test_unknown_paths_and_wrong_methods_share_one_budget_per_client_ip(make_app):
    client = make_app(ANONYMOUS_RATE_LIMIT="5 per minute").test_client()

    answers = [
        client.get("/no-such-page"),
        client.post(URL),
        client.open("/api/integrations/nothing", method="PROPFIND"),
        client.delete("/integrations"),
        client.get("/another/missing/page"),
        client.get("/no-such-page"),
        client.post(URL),
    ]
    other_ip = client.get("/no-such-page", environ_base={"REMOTE_ADDR": "10.9.8.7"})

    assert [r.status_code for r in answers] == [404, 405, 404, 405, 404, 429, 429]
    remaining = [r.headers["X-RateLimit-Remaining"] for r in answers[:5]]
    assert remaining == ["4", "3", "2", "1", "0"]
    refused = answers[-1]
    assert refused.get_json() == {
        "success": False,
        "error": {
            "code": "RATE_LIMIT_EXCEEDED",
            "message": "Too many requests. Please try again later.",
        },
    }
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert other_ip.status_code == 404
    # Routes keep their own budgets: the signed-out status call is not refused for them.
    assert client.get(URL).status_code == 401


def test_a_session_cookie_does_not_give_unmatched_requests_their_own_budget(
    make_app, add_user, db_session_cookie
):
    app = make_app(ANONYMOUS_RATE_LIMIT="2 per minute")
    add_user(1)
    signed_in = app.test_client()
    signed_in.set_cookie("next-auth.session-token", db_session_cookie(1))
    anonymous = app.test_client()

    codes = [signed_in.get("/nope").status_code, anonymous.get("/nope").status_code]

    assert [*codes, signed_in.get("/nope").status_code] == [404, 404, 429]
    assert signed_in.get(URL).status_code == 200


def test_operator_endpoints_stay_unlimited_beside_the_unmatched_budget(make_app):
    client = make_app(ANONYMOUS_RATE_LIMIT="2 per minute").test_client()

    for _ in range(3):
        client.get("/nope")
    answers = [client.get(path) for path in ["/livez", "/metrics", "/api/openapi.json"] * 3]

    assert {r.status_code for r in answers} == {200}
    assert all("X-RateLimit-Limit" not in r.headers for r in answers)
