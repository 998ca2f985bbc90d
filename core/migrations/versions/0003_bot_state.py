"""Create the bot's tables: processed and posted message ids, polling cursors, state, counters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Frozen copy of core.botstate's schema (plain column types; timestamps are naive UTC).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the five bot tables and their indexes."""
    op.create_table(
        "bot_processed_messages",
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_bot_processed_messages")),
    )
    op.create_index(
        op.f("ix_bot_processed_messages_processed_at"),
        "bot_processed_messages",
        ["processed_at"],
    )
    op.create_table(
        "bot_posted_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_posted_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_bot_posted_messages_message_id")),
    )
    op.create_index(
        op.f("ix_bot_posted_messages_fingerprint"), "bot_posted_messages", ["fingerprint"]
    )
    op.create_index(
        op.f("ix_bot_posted_messages_created_at"), "bot_posted_messages", ["created_at"]
    )
    op.create_table(
        "bot_cursors",
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("message_created", sa.String(length=40), nullable=False),
        sa.Column("last_activity", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_bot_cursors")),
    )
    op.create_table(
        "bot_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bot_state")),
    )
    op.create_table(
        "bot_counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bot_counters")),
    )


def downgrade() -> None:
    """Drop the bot tables."""
    op.drop_table("bot_counters")
    op.drop_table("bot_state")
    op.drop_table("bot_cursors")
    op.drop_index(op.f("ix_bot_posted_messages_created_at"), table_name="bot_posted_messages")
    op.drop_index(op.f("ix_bot_posted_messages_fingerprint"), table_name="bot_posted_messages")
    op.drop_table("bot_posted_messages")
    op.drop_index(
        op.f("ix_bot_processed_messages_processed_at"), table_name="bot_processed_messages"
    )
    op.drop_table("bot_processed_messages")
