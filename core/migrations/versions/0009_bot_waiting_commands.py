"""Create bot_waiting_commands: messages and card presses kept (ids only) for the re-login.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Frozen copy of core.reauth_waiting's schema (plain column types; timestamps are naive UTC).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create bot_waiting_commands and its index."""
    op.create_table(
        "bot_waiting_commands",
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("intake", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("kept_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_bot_waiting_commands")),
    )
    op.create_index(op.f("ix_bot_waiting_commands_kept_at"), "bot_waiting_commands", ["kept_at"])


def downgrade() -> None:
    """Drop bot_waiting_commands."""
    op.drop_index(op.f("ix_bot_waiting_commands_kept_at"), table_name="bot_waiting_commands")
    op.drop_table("bot_waiting_commands")
