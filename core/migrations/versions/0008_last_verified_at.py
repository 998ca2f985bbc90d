"""Add accounts.last_verified_at: when the health probe last saw Webex accept the token.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable column (a plain ADD COLUMN on both backends: no table rebuild)."""
    op.add_column("accounts", sa.Column("last_verified_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("last_verified_at")
