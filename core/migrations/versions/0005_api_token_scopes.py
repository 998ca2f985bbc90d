"""Give API tokens scopes, covered accounts, required Webex scopes and an expiry (issue 16).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Frozen copy of the columns core.api_tokens added. Existing tokens keep what they could do:
``status:read`` only, no accounts, no expiry.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add scopes, accounts, webex_scopes and expires_at to api_tokens."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("scopes", sa.String(length=200), server_default="status:read", nullable=False)
        )
        batch.add_column(sa.Column("accounts", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("webex_scopes", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Drop the four columns again."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("webex_scopes")
        batch.drop_column("accounts")
        batch.drop_column("scopes")
