"""Count accounts per status badge in one aggregate query (the dashboard header, /api/v1/status).

It mirrors `core.records.AccountView.health` in SQL so that ten thousand accounts are counted
without loading ten thousand rows; a test checks both agree on every case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tokenbot.core.db import Database
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus

__all__ = ["account_summary"]


def _health_case(now: datetime) -> sa.ColumnElement[str]:
    no_tokens = sa.or_(Account.access_token_enc.is_(None), Account.refresh_token_enc.is_(None))
    due = sa.or_(
        sa.and_(Account.next_refresh_at.is_not(None), Account.next_refresh_at <= now),
        Account.access_expires_at.is_(None),
        Account.access_expires_at <= now,
    )
    return sa.case(
        (Account.status == AccountStatus.DISCONNECTED, "disconnected"),
        (sa.or_(Account.status == AccountStatus.NEEDS_REAUTH, no_tokens), "needs_reauth"),
        (Account.status == AccountStatus.REFRESH_FAILING, "failing"),
        (due, "refresh_due"),
        else_="healthy",
    )


def account_summary(database: Database, now: datetime) -> dict[str, Any]:
    """Return ``{"total": n, "by_health": {badge: n}}`` over every account."""
    health = _health_case(now).label("health")
    query = sa.select(health, sa.func.count()).group_by(health)
    with database.read() as session:
        rows = session.execute(query).all()
    by_health = {str(name): int(count) for name, count in rows}
    return {"total": sum(by_health.values()), "by_health": by_health}
