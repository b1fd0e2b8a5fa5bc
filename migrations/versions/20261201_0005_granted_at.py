"""When each integration's current grant was given (its last connect or reconnect).

A provider's removal that happened before it (a webhook redelivered after the creator
reconnected) leaves the new grant alone. Rows from before this revision have none: a removal
expires them as it always did.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("granted_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("granted_at")
