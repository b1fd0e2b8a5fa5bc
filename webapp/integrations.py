"""The integrations service: every rule about a creator's connected accounts lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .database import run_with_retry
from .extensions import db
from .models import Integration


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    """What a creator may see of an integration: no secrets."""

    id: int
    provider: str
    account_id: str
    account_name: str
    status: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


def status_at(expires_at: datetime | None, now: datetime) -> str:
    """`expired` once the expiry has passed; no expiry means connected."""
    return "expired" if expires_at is not None and expires_at <= now else "connected"


def list_for_user(user_id: int, now: datetime) -> list[IntegrationStatus]:
    """The user's integrations in a stable order (by id), with their status at `now`."""
    statement = (
        select(
            Integration.id,
            Integration.provider,
            Integration.account_id,
            Integration.account_name,
            Integration.expires_at,
            Integration.created_at,
            Integration.updated_at,
        )
        .where(Integration.user_id == user_id)
        .order_by(Integration.id)
    )
    rows = run_with_retry(
        lambda: db.session.execute(statement).all(),
        failure_message="Failed to fetch integrations",
    )
    return [
        IntegrationStatus(
            id=row.id,
            provider=row.provider,
            account_id=row.account_id,
            account_name=row.account_name,
            status=status_at(row.expires_at, now),
            expires_at=row.expires_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]
