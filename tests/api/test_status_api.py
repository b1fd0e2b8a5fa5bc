"""GET /api/integrations/status, through HTTP, exactly as the contract shows it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from webapp.timeutil import utcnow

from ..support.app import jwt_cookie

CACHE_CONTROL = "private, no-cache, no-store, must-revalidate"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def contract_rows(now: datetime) -> list[dict]:
    return [
        {
            "provider": "instagram",
            "account_id": "123456789",
            "account_name": "@creator_account",
            "access_token": "IGQVJ-secret-access-token",
            "expires_at": now + timedelta(days=30),
            "created_at": T0,
            "updated_at": datetime(2025, 1, 15, 12, tzinfo=UTC),
        },
        {
            "provider": "tiktok",
            "account_id": "987654321",
            "account_name": "@tiktok_creator",
            "access_token": "act.secret-tiktok-token",
            "refresh_token": "rft.secret-tiktok-refresh",
            "expires_at": datetime(2025, 1, 1, tzinfo=UTC),
            "created_at": datetime(2024, 12, 1, tzinfo=UTC),
            "updated_at": datetime(2024, 12, 15, 12, tzinfo=UTC),
        },
        {
            "provider": "onlyfans",
            "account_id": "of_555",
            "account_name": "creator_of",
            "api_key": "of-secret-api-key",
            "expires_at": None,
            "created_at": T0,
            "updated_at": T0,
        },
    ]


@pytest.fixture
def signed_in_at(client, add_user, db_session_cookie):
    """Signs `client` in as user 1 with the contract rows; returns when the rows were made."""
    now = utcnow().replace(microsecond=0)
    add_user(1, contract_rows(now))
    client.set_cookie("next-auth.session-token", db_session_cookie(1))
    return now


def test_signed_in_creator_gets_integrations_in_contract_shape(client, signed_in_at):
    response = client.get("/api/integrations/status")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["success", "data", "duration"]
    assert body["success"] is True
    assert isinstance(body["duration"], int) and body["duration"] >= 0
    expires = signed_in_at + timedelta(days=30)
    assert body["data"]["integrations"] == [
        {
            "id": 1,
            "provider": "instagram",
            "accountId": "123456789",
            "accountName": "@creator_account",
            "status": "connected",
            "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "createdAt": "2025-01-01T00:00:00.000Z",
            "updatedAt": "2025-01-15T12:00:00.000Z",
        },
        {
            "id": 2,
            "provider": "tiktok",
            "accountId": "987654321",
            "accountName": "@tiktok_creator",
            "status": "expired",
            "expiresAt": "2025-01-01T00:00:00.000Z",
            "createdAt": "2024-12-01T00:00:00.000Z",
            "updatedAt": "2024-12-15T12:00:00.000Z",
        },
        {
            "id": 3,
            "provider": "onlyfans",
            "accountId": "of_555",
            "accountName": "creator_of",
            "status": "connected",
            "expiresAt": None,
            "createdAt": "2025-01-01T00:00:00.000Z",
            "updatedAt": "2025-01-01T00:00:00.000Z",
        },
    ]
    first = json.loads(response.data, object_pairs_hook=list)[1][1][0][1][0]
    assert [key for key, _ in first] == [
        "id",
        "provider",
        "accountId",
        "accountName",
        "status",
        "expiresAt",
        "createdAt",
        "updatedAt",
    ]


def test_no_secret_reaches_the_response(client, signed_in_at):
    raw = client.get("/api/integrations/status").get_data(as_text=True)

    for secret in ("IGQVJ-secret", "act.secret", "rft.secret", "of-secret-api-key", "Token"):
        assert secret not in raw


def test_millisecond_timestamps_keep_their_milliseconds(client, add_user, db_session_cookie):
    moment = datetime(2025, 12, 31, 23, 59, 59, 123456, tzinfo=UTC)
    add_user(
        5,
        [
            {
                "provider": "reddit",
                "account_id": "t2_x",
                "account_name": "u/x",
                "expires_at": moment,
                "created_at": moment,
                "updated_at": moment,
            }
        ],
    )
    client.set_cookie("next-auth.session-token", db_session_cookie(5))

    item = client.get("/api/integrations/status").get_json()["data"]["integrations"][0]

    assert item["createdAt"] == "2025-12-31T23:59:59.123Z"
    assert item["status"] == "expired"


def test_status_flips_to_expired_once_expiry_passes(client, add_user, db_session_cookie):
    now = utcnow()
    add_user(
        6,
        [
            {
                "provider": "reddit",
                "account_id": "soon",
                "account_name": "u/a",
                "expires_at": now + timedelta(seconds=30),
            },
            {
                "provider": "reddit",
                "account_id": "past",
                "account_name": "u/b",
                "expires_at": now - timedelta(seconds=1),
            },
        ],
    )
    client.set_cookie("next-auth.session-token", db_session_cookie(6))

    items = client.get("/api/integrations/status").get_json()["data"]["integrations"]

    assert [(i["accountId"], i["status"]) for i in items] == [
        ("soon", "connected"),
        ("past", "expired"),
    ]


def test_user_with_no_integrations_gets_an_empty_list(client, add_user, db_session_cookie):
    add_user(9)
    client.set_cookie("next-auth.session-token", db_session_cookie(9))

    body = client.get("/api/integrations/status").get_json()

    assert body["success"] is True
    assert body["data"] == {"integrations": []}


def test_one_user_never_sees_another_users_integrations(client, add_user, db_session_cookie):
    add_user(1, [{"provider": "instagram", "account_id": "mine", "account_name": "@me"}])
    add_user(
        2,
        [
            {"provider": "instagram", "account_id": "theirs", "account_name": "@them"},
            {"provider": "tiktok", "account_id": "theirs2", "account_name": "@them2"},
        ],
    )
    client.set_cookie("next-auth.session-token", db_session_cookie(1))

    items = client.get("/api/integrations/status").get_json()["data"]["integrations"]

    assert [i["accountId"] for i in items] == ["mine"]


def test_order_is_by_id_whatever_the_insertion_order(client, add_user, db_session_cookie):
    add_user(
        3,
        [
            {"provider": p, "account_id": a, "account_name": a}
            for p, a in [("tiktok", "z"), ("instagram", "a"), ("reddit", "m")]
        ],
    )
    client.set_cookie("next-auth.session-token", db_session_cookie(3))

    items = client.get("/api/integrations/status").get_json()["data"]["integrations"]

    assert [i["id"] for i in items] == sorted(i["id"] for i in items)
    assert [i["accountId"] for i in items] == ["z", "a", "m"]


def test_missing_cookie_gets_401_without_duration(client):
    response = client.get("/api/integrations/status")

    assert response.status_code == 401
    assert response.get_json() == {
        "success": False,
        "error": {"code": "UNAUTHORIZED", "message": "Authentication required"},
    }


def test_expired_database_session_gets_401(client, add_user, db_session_cookie):
    add_user(1)
    client.set_cookie(
        "next-auth.session-token", db_session_cookie(1, expires_in=timedelta(seconds=-1))
    )

    assert client.get("/api/integrations/status").status_code == 401


def test_revoked_database_session_gets_401(app, client, add_user, db_session_cookie):
    from webapp.extensions import db
    from webapp.models import Session

    add_user(1)
    token = db_session_cookie(1)
    client.set_cookie("next-auth.session-token", token)
    assert client.get("/api/integrations/status").status_code == 200
    with app.app_context():
        db.session.query(Session).delete()
        db.session.commit()

    assert client.get("/api/integrations/status").status_code == 401


def test_token_shared_by_two_live_sessions_is_refused_never_mixed(app, client, add_user, logs):
    """Next.js may create `sessions` without a unique index; two rows can then share a token."""
    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.models import Session

    add_user(1, [{"provider": "tiktok", "account_id": "one", "account_name": "@one"}])
    add_user(2, [{"provider": "reddit", "account_id": "two", "account_name": "u/two"}])
    with app.app_context():
        db.session.execute(text('DROP INDEX "ix_sessions_sessionToken"'))
        for user_id in (1, 2):
            expires = utcnow() + timedelta(days=1)
            db.session.add(Session(user_id=user_id, session_token="shared", expires=expires))
        db.session.commit()
    client.set_cookie("next-auth.session-token", "shared")

    response = client.get("/api/integrations/status")

    assert response.status_code == 500
    assert response.get_json()["error"] == {
        "code": "INTERNAL_ERROR",
        "message": "Failed to fetch integrations",
    }
    assert response.headers["Retry-After"] == "60"
    assert any(r["message"] == "more than one live session has this token" for r in logs)


@pytest.mark.parametrize("user_id", [0, -4])
def test_session_with_non_positive_user_id_gets_400(client, db_session_cookie, user_id):
    client.set_cookie("next-auth.session-token", db_session_cookie(user_id))

    response = client.get("/api/integrations/status")

    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == {"code": "INVALID_USER_ID", "message": "Invalid user ID"}
    assert list(body) == ["success", "error", "duration"]
    assert body["duration"] == int(response.headers["X-Duration-Ms"])


def test_secure_and_authjs_cookie_names_are_accepted(client, add_user, db_session_cookie):
    add_user(1, [{"provider": "reddit", "account_id": "r", "account_name": "u/r"}])
    for name in (
        "__Secure-next-auth.session-token",
        "authjs.session-token",
        "__Secure-authjs.session-token",
    ):
        client.delete_cookie("next-auth.session-token")
        for other in (
            "__Secure-next-auth.session-token",
            "authjs.session-token",
            "__Secure-authjs.session-token",
        ):
            client.delete_cookie(other)
        client.set_cookie(name, db_session_cookie(1))
        assert client.get("/api/integrations/status").status_code == 200, name


def test_every_response_carries_the_contract_headers(client, signed_in_at):
    responses = [
        client.get("/api/integrations/status"),
        client.get("/api/nothing-here"),
        client.post("/api/integrations/status"),
        client.get("/no-such-page"),
    ]
    client.delete_cookie("next-auth.session-token")
    responses.append(client.get("/api/integrations/status"))

    assert [r.status_code for r in responses] == [200, 404, 405, 404, 401]
    for response in responses:
        assert response.headers["Cache-Control"] == CACHE_CONTROL
        assert uuid.UUID(response.headers["X-Correlation-Id"]).version == 4
        assert response.headers["X-Duration-Ms"].isdigit()
        assert response.get_json()["success"] is False or response.status_code == 200


def test_unknown_api_path_gets_json_404_envelope(client):
    response = client.get("/api/integrations/nope")

    assert response.status_code == 404
    assert response.get_json()["error"] == {"code": "NOT_FOUND", "message": "Not found"}


def test_well_formed_correlation_id_is_kept(client):
    incoming = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"

    response = client.get("/api/integrations/status", headers={"X-Correlation-Id": incoming})

    assert response.headers["X-Correlation-Id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "not-a-uuid",
        "",
        "a1b2c3d4e5f67890abcdef1234567890",
        "x" * 5000,
        "a1b2c3d4-e5f6-7890-abcd-ef12345678901",
        "{a1b2c3d4-e5f6-7890-abcd-ef1234567890}",
    ],
)
def test_malformed_correlation_id_is_replaced(client, incoming):
    response = client.get("/api/integrations/status", headers={"X-Correlation-Id": incoming})

    outgoing = response.headers["X-Correlation-Id"]
    assert outgoing != incoming
    assert str(uuid.UUID(outgoing)) == outgoing


def test_duration_in_body_matches_header(client, signed_in_at):
    response = client.get("/api/integrations/status")

    assert response.get_json()["duration"] == int(response.headers["X-Duration-Ms"])


def test_one_json_log_line_per_request_without_secrets(client, signed_in_at, logs):
    token = client.get_cookie("next-auth.session-token").value
    response = client.get(
        "/api/integrations/status", headers={"X-Correlation-Id": str(uuid.uuid4())}
    )

    lines = [entry for entry in logs if entry["logger"] == "webapp.request"]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["correlationId"] == response.headers["X-Correlation-Id"]
    assert entry["userId"] == 1
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/integrations/status"
    assert entry["status"] == 200
    assert entry["durationMs"] >= 0
    assert entry["integrationCount"] == 3
    assert entry["expiredCount"] == 1
    assert token not in entry["_raw"]
    assert "secret" not in entry["_raw"]


def test_jwt_strategy_reads_the_user_from_the_token(make_app, add_user):
    add_user(77, [{"provider": "reddit", "account_id": "r", "account_name": "u/r"}])
    client = make_app(NEXTAUTH_SESSION_STRATEGY="jwt").test_client()
    client.set_cookie("next-auth.session-token", jwt_cookie("77"))

    response = client.get("/api/integrations/status")

    assert response.status_code == 200
    assert [i["accountId"] for i in response.get_json()["data"]["integrations"]] == ["r"]
