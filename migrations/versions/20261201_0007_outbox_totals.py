"""Outbox figures that /metrics reads without scanning the outbox.

`outbox_totals` counts the events of each type that reached a final status (delivered, failed,
gone), kept by `deliver-events` in the transaction that records the status; the pending ones
are found through ix_outbox_events_status_next_attempt_at. Seeded from the rows already there:
stop `deliver-events` while upgrading, or a delivery in between goes uncounted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_totals",
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("type", "status", name="pk_outbox_totals"),
    )
    op.execute(
        "INSERT INTO outbox_totals (type, status, total) "
        "SELECT type, status, count(*) FROM outbox_events "
        "WHERE status <> 'pending' GROUP BY type, status"
    )


def downgrade() -> None:
    op.drop_table("outbox_totals")
