"""Create relink_links: single-use re-login links bound to an account and its Webex person.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Frozen copy of core.relink's schema (plain column types; timestamps are naive UTC).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create relink_links and its indexes."""
    op.create_table(
        "relink_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=255), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_relink_links_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relink_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_relink_links_token_hash")),
    )
    op.create_index(op.f("ix_relink_links_state_hash"), "relink_links", ["state_hash"])


def downgrade() -> None:
    """Drop relink_links."""
    op.drop_index(op.f("ix_relink_links_state_hash"), table_name="relink_links")
    op.drop_table("relink_links")
