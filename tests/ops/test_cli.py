"""`flask seed-demo`: the demo creator's four integrations, idempotently, and bulk users."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Integration, User
from webapp.timeutil import utcnow


def test_seed_demo_creates_the_four_demo_integrations(app, db_session_cookie):
    result = app.test_cli_runner().invoke(args=["seed-demo", "--user-id", "7"])
    assert result.exit_code == 0, result.output

    client = app.test_client()
    client.set_cookie("next-auth.session-token", db_session_cookie(7))
    items = client.get("/api/integrations/status").get_json()["data"]["integrations"]

    assert [(i["provider"], i["accountName"], i["status"]) for i in items] == [
        ("instagram", "@creator_account", "connected"),
        ("tiktok", "@tiktok_creator", "expired"),
        ("reddit", "u/reddit_creator", "connected"),
        ("onlyfans", "creator_onlyfans", "connected"),
    ]
    with app.app_context():
        instagram = db.session.execute(
            select(Integration).where(Integration.provider == "instagram")
        ).scalar_one()
        left = instagram.expires_at - utcnow()
        assert timedelta(days=59, hours=23) < left <= timedelta(days=60)
    assert items[3]["expiresAt"] is None


def test_seed_demo_is_idempotent(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo", "--user-id", "1"])
    again = runner.invoke(args=["seed-demo", "--user-id", "1"])

    assert again.exit_code == 0
    assert "0 users and 0 integrations created" in again.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Integration)).scalar() == 4


def test_seed_demo_many_users(app):
    result = app.test_cli_runner().invoke(
        args=["seed-demo", "--user-id", "100", "--users", "12000"]
    )

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(User)).scalar() == 12000
        assert db.session.execute(select(func.min(User.id), func.max(User.id))).one() == (
            100,
            12099,
        )
        per_user = db.session.execute(
            select(func.count()).select_from(Integration).where(Integration.user_id == 12099)
        ).scalar()
        assert per_user == 4


def test_seed_demo_rejects_non_positive_user_id(app):
    result = app.test_cli_runner().invoke(args=["seed-demo", "--user-id", "0"])

    assert result.exit_code == 2
    assert "--user-id" in result.output


def test_new_users_after_seeding_get_fresh_ids(app):
    app.test_cli_runner().invoke(args=["seed-demo", "--user-id", "50"])
    with app.app_context():
        user = User(name="signed up later")
        db.session.add(user)
        db.session.commit()
        assert user.id > 50
