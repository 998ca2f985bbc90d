"""Create the named leases table (one websocket listener across instances).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Frozen copy of core.listener_lease's schema (timestamps are naive UTC).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `bot_leases`."""
    op.create_table(
        "bot_leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bot_leases")),
    )


def downgrade() -> None:
    """Drop `bot_leases`."""
    op.drop_table("bot_leases")
