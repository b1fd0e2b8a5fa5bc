"""What is known of each grant's health, data deletion requests, and one-time page notices.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("expired_reason", sa.String(32)))
        batch.add_column(sa.Column("expired_detail", sa.String(64)))
        batch.add_column(sa.Column("expired_marked_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_integrations_provider_account_id", ["provider", "account_id"])
    op.create_table(
        "deletion_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("confirmation_code", sa.String(32), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("integrations_deleted", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_deletion_requests"),
        sa.UniqueConstraint("confirmation_code", name="uq_deletion_requests_confirmation_code"),
        sa.UniqueConstraint("request_hash", name="uq_deletion_requests_request_hash"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_notices_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
    )
    op.create_index("ix_notices_user_id", "notices", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_notices_user_id", table_name="notices")
    op.drop_table("notices")
    op.drop_table("deletion_requests")
    with op.batch_alter_table("integrations") as batch:
        batch.drop_index("ix_integrations_provider_account_id")
        batch.drop_column("verified_at")
        batch.drop_column("expired_marked_at")
        batch.drop_column("expired_detail")
        batch.drop_column("expired_reason")
