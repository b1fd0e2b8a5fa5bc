"""Service API keys: made, listed and revoked with `flask api-keys`, believed by their hash,
scoped per route, limited per key; the envelope and headers of the rest of the API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text, update

from webapp.extensions import db
from webapp.models import ApiKey, Integration
from webapp.timeutil import utcnow

from ..support.backends import bearer, make_key

LIST = "/api/platform/users/1/integrations"
KEY = re.compile(r"cik_[A-Za-z0-9_-]{43}")


@pytest.fixture
def creator(add_user):
    return add_user(
        1,
        [
            {
                "provider": "reddit",
                "account_id": "t2_r",
                "account_name": "u/r",
                "access_token": "reddit-access",
                "expires_at": utcnow() + timedelta(hours=1),
            },
            {
                "provider": "tiktok",
                "account_id": "tt",
                "account_name": "@t",
                "access_token": "tiktok-access",
                "expires_at": utcnow() - timedelta(days=1),
            },
        ],
    )


def test_a_created_key_is_printed_once_on_the_last_line_and_works(app, client, creator):
    result = app.test_cli_runner().invoke(
        args=["api-keys", "create", "--name", "scheduler", "--scope", "integrations:read"]
    )

    assert result.exit_code == 0, result.output
    key = result.output.rstrip("\n").splitlines()[-1]
    assert KEY.fullmatch(key)
    assert result.output.count(key) == 1
    assert client.get(LIST, headers=bearer(key)).status_code == 200


def test_the_database_holds_no_copy_of_a_key(app, creator):
    key = make_key(app, "scheduler", "integrations:read", "credentials:read")

    with app.app_context():
        dump = [
            str(tuple(row))
            for table in inspect(db.engine).get_table_names()
            for row in db.session.execute(text(f'SELECT * FROM "{table}"'))
        ]
        db.session.rollback()
    assert dump, "the dump read rows"
    assert not [row for row in dump if key in row or key[4:] in row]


def test_list_shows_name_prefix_scopes_and_use_never_the_key(app, client, creator):
    key = make_key(app, "inbox", "integrations:read", "proxy")
    client.get(LIST, headers=bearer(key))

    listed = app.test_cli_runner().invoke(args=["api-keys", "list"]).output

    assert key not in listed
    assert "inbox" in listed and key[:12] in listed
    assert "scopes=integrations:read,proxy" in listed
    assert "last_used=20" in listed


def test_a_revoked_key_is_refused_on_its_next_request(app, client, creator):
    key = make_key(app, "scheduler", "integrations:read")
    assert client.get(LIST, headers=bearer(key)).status_code == 200

    revoked = app.test_cli_runner().invoke(args=["api-keys", "revoke", "scheduler"])

    assert revoked.exit_code == 0 and "revoked scheduler" in revoked.output
    refused = client.get(LIST, headers=bearer(key))
    assert refused.status_code == 401
    assert refused.get_json()["error"] == {
        "code": "UNAUTHORIZED",
        "message": "Authentication required",
    }
    again = app.test_cli_runner().invoke(args=["api-keys", "revoke", "scheduler"])
    assert again.exit_code != 0 and "no live key" in again.output


@pytest.mark.parametrize(
    "args, says",
    [
        (["--name", "x", "--scope", "admin"], "Invalid value for '--scope'"),
        (["--name", "x"], "Missing option '--scope'"),
        (["--name", "bad name", "--scope", "proxy"], "a name is 1-64"),
    ],
)
def test_create_refuses_what_it_cannot_make(app, args, says):
    result = app.test_cli_runner().invoke(args=["api-keys", "create", *args])

    assert result.exit_code != 0 and says in result.output
    with app.app_context():
        assert db.session.query(ApiKey).count() == 0


def test_a_name_is_one_key(app):
    make_key(app, "scheduler", "proxy")

    second = app.test_cli_runner().invoke(
        args=["api-keys", "create", "--name", "scheduler", "--scope", "proxy"]
    )

    assert second.exit_code != 0 and "exists" in second.output


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic Y2lrXzp4",
        "Bearer cik_short",
        "Bearer cik_" + "A" * 43,  # well formed, never made
        "Bearer cik_" + "A" * 43 + " extra",
        "Bearer " + "x" * 5000,
    ],
)
def test_no_live_key_is_401_in_the_envelope(app, client, creator, authorization):
    make_key(app, "scheduler", "integrations:read")
    headers = {} if authorization is None else {"Authorization": authorization}

    response = client.get(LIST, headers=headers)

    assert response.status_code == 401
    assert response.get_json() == {
        "success": False,
        "error": {"code": "UNAUTHORIZED", "message": "Authentication required"},
    }
    assert {"X-Correlation-Id", "X-Duration-Ms", "Cache-Control"} <= set(response.headers.keys())


def test_a_key_without_the_routes_scope_is_403(app, client, creator):
    key = make_key(app, "inbox", "credentials:read")

    response = client.get(LIST, headers=bearer(key))

    assert response.status_code == 403
    body = response.get_json()
    assert body["error"]["code"] == "INSUFFICIENT_SCOPE"
    assert "integrations:read" in body["error"]["message"]
    assert response.headers["Cache-Control"] == "private, no-cache, no-store, must-revalidate"


def test_a_creators_session_cookie_opens_nothing_here(app, client, creator, db_session_cookie):
    client.set_cookie("next-auth.session-token", db_session_cookie(1))

    assert client.get(LIST).status_code == 401


def test_use_is_written_at_most_once_a_minute(app, client, creator):
    key = make_key(app, "scheduler", "integrations:read")

    def last_used():
        with app.app_context():
            value = db.session.query(ApiKey.last_used_at).scalar()
            db.session.rollback()
        return value

    client.get(LIST, headers=bearer(key))
    first = last_used()
    client.get(LIST, headers=bearer(key))
    assert last_used() == first  # within the minute: not written again
    with app.app_context():
        db.session.execute(update(ApiKey).values(last_used_at=utcnow() - timedelta(seconds=61)))
        db.session.commit()
    client.get(LIST, headers=bearer(key))
    assert last_used() > first


def test_the_list_is_the_contracts_objects_with_why_and_where_to_reconnect(app, client, creator):
    key = make_key(app, "scheduler", "integrations:read")
    with app.app_context():
        db.session.execute(
            update(Integration)
            .where(Integration.provider == "reddit")
            .values(expired_reason="access_revoked")
        )
        db.session.commit()

    body = client.get(LIST, headers=bearer(key)).get_json()

    reddit, tiktok = body["data"]["integrations"]
    assert list(reddit) == [
        "id",
        "provider",
        "accountId",
        "accountName",
        "status",
        "expiresAt",
        "createdAt",
        "updatedAt",
        "reason",
        "reconnectUrl",
    ]
    assert (reddit["status"], reddit["reason"]) == ("expired", "access_revoked")
    assert (tiktok["status"], tiktok["reason"]) == ("expired", "expired")
    assert reddit["reconnectUrl"] == f"http://localhost/integrations#integration-{reddit['id']}"


def test_a_connected_integration_has_no_reason(app, client, add_user):
    add_user(
        1, [{"provider": "onlyfans", "account_id": "of", "account_name": "o", "api_key": "k" * 20}]
    )
    key = make_key(app, "scheduler", "integrations:read")

    [item] = client.get(LIST, headers=bearer(key)).get_json()["data"]["integrations"]

    assert (item["status"], item["reason"]) == ("connected", None)


@pytest.mark.parametrize("user_id", ["0", "-1", "abc", "2147483648", "1.5"])
def test_a_bad_user_id_is_400(app, client, creator, user_id):
    key = make_key(app, "scheduler", "integrations:read")

    response = client.get(f"/api/platform/users/{user_id}/integrations", headers=bearer(key))

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_USER_ID"


def test_each_key_has_its_own_budget(make_app, add_user):
    app = make_app(PLATFORM_RATE_LIMIT="3 per minute")
    add_user(1)
    scheduler, inbox = (
        make_key(app, "scheduler", "integrations:read"),
        make_key(app, "inbox", "integrations:read", "credentials:read"),
    )
    client = app.test_client()

    answers = [client.get(LIST, headers=bearer(scheduler)) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    refused = answers[-1]
    assert refused.get_json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # One budget for all of a key's routes; another key's is untouched.
    assert (
        client.get(
            "/api/platform/integrations/1/credentials", headers=bearer(scheduler)
        ).status_code
        == 429
    )
    assert client.get(LIST, headers=bearer(inbox)).status_code == 200
