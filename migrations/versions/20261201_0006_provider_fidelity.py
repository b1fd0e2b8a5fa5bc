"""What providers say of a grant beyond its expiry: when its token was obtained (Instagram renews
only a day-old token), when its refresh token ends (TikTok), whether a token request went
unanswered (a rotation that may be lost), and every other id a provider gave for the account.

Rows from before this revision have none of these: Instagram's rule then applies from their
next refresh on, and callbacks match them on their account id, as they always did.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("token_obtained_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("refresh_expires_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("renewal_unanswered_at", sa.DateTime(timezone=True)))
    op.create_table(
        "account_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_account_aliases_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_account_aliases"),
        sa.UniqueConstraint("integration_id", "alias", name="uq_account_aliases_integration_id"),
    )
    op.create_index("ix_account_aliases_provider_alias", "account_aliases", ["provider", "alias"])


def downgrade() -> None:
    op.drop_index("ix_account_aliases_provider_alias", table_name="account_aliases")
    op.drop_table("account_aliases")
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("renewal_unanswered_at")
        batch.drop_column("refresh_expires_at")
        batch.drop_column("token_obtained_at")
