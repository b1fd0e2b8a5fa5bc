"""NextAuth users/sessions (when absent) and integrations.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    # The official @auth/pg-adapter layout; created only when the Next.js app has not already.
    if "users" not in existing:
        op.create_table(
            "users",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(255)),
            sa.Column("email", sa.String(255)),
            sa.Column("emailVerified", sa.DateTime(timezone=True)),
            sa.Column("image", sa.Text()),
            sa.PrimaryKeyConstraint("id", name="users_pkey"),
        )
    if "sessions" not in existing:
        op.create_table(
            "sessions",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("userId", sa.Integer(), nullable=False),
            sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
            sa.Column("sessionToken", sa.String(255), nullable=False),
            sa.PrimaryKeyConstraint("id", name="sessions_pkey"),
        )
        # Every authenticated request looks a session up by its token.
        op.create_index("ix_sessions_sessionToken", "sessions", ["sessionToken"], unique=True)

    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(255), nullable=False),
        sa.Column("account_name", sa.String(255), nullable=False),
        sa.Column("access_token", sa.Text()),
        sa.Column("refresh_token", sa.Text()),
        sa.Column("api_key", sa.Text()),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_integrations_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_integrations"),
        sa.UniqueConstraint("user_id", "provider", "account_id", name="uq_integrations_user_id"),
    )
    op.create_index("ix_integrations_expires_at", "integrations", ["expires_at"])


def downgrade() -> None:
    # users and sessions stay: the Next.js app may own them and their rows.
    op.drop_index("ix_integrations_expires_at", table_name="integrations")
    op.drop_table("integrations")
