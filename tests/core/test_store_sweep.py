"""The sweep's query stays one indexed lookup, however many accounts exist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from tests.core.factories import HOUR
from tests.core.factories import identity
from tests.core.factories import tokens
from tokenbot.core.clock import FrozenClock
from tokenbot.core.db import Database
from tokenbot.core.store import TokenStore

ACCOUNTS = 100_000

_SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO accounts (person_id, email, display_name, scopes, status, is_bot_identity,
    access_token_enc, refresh_token_enc, access_expires_at, obtained_at, next_refresh_at,
    failure_count, version, created_at, updated_at)
SELECT 'bulk-' || i, 'bulk' || i || '@example.com', 'Bulk', 'spark:all',
    CASE WHEN i % 10 = 0 THEN 'needs_reauth' ELSE 'active' END, 0, 'x', 'x',
    strftime('%Y-%m-%d %H:%M:%f', :base, '+' || (i + 86400) || ' seconds'), :base,
    CASE WHEN i % 10 = 0 THEN NULL
         ELSE strftime('%Y-%m-%d %H:%M:%f', :base, '+' || (i + 3600) || ' seconds') END,
    0, 1, :base, :base
FROM n
"""

_POSTGRES_FILL = """
INSERT INTO accounts (person_id, email, display_name, scopes, status, is_bot_identity,
    access_token_enc, refresh_token_enc, access_expires_at, obtained_at, next_refresh_at,
    failure_count, version, created_at, updated_at)
SELECT 'bulk-' || i, 'bulk' || i || '@example.com', 'Bulk', 'spark:all',
    CASE WHEN i % 10 = 0 THEN 'needs_reauth' ELSE 'active' END, false, 'x', 'x',
    CAST(:base AS timestamp) + (i + 86400) * interval '1 second', CAST(:base AS timestamp),
    CASE WHEN i % 10 = 0 THEN NULL
         ELSE CAST(:base AS timestamp) + (i + 3600) * interval '1 second' END,
    0, 1, CAST(:base AS timestamp), CAST(:base AS timestamp)
FROM generate_series(1, :count) AS i
"""


def _fill(database: Database, clock: FrozenClock) -> None:
    base = clock.now().replace(tzinfo=None)
    sql = _SQLITE_FILL if database.is_sqlite else _POSTGRES_FILL
    params: dict[str, Any] = {"count": ACCOUNTS, "base": base}
    if database.is_sqlite:
        params["base"] = base.isoformat(sep=" ")
    with database.write() as session:
        session.execute(sa.text(sql), params)
    with database.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def _captured_sql(database: Database, run: Any) -> tuple[str, Any]:
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM accounts" in statement and "next_refresh_at" in statement:
            seen.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    assert len(seen) == 1, "the sweep must be one query"
    return seen[0]


def test_the_sweep_over_a_large_table_uses_the_index(
    store: TokenStore, database: Database, clock: FrozenClock
) -> None:
    _fill(database, clock)
    now = clock.now()

    # Speed is measured by `make bench` (bench/sweep.py); here: nothing due, one indexed query.
    assert store.due_account_ids(now) == []

    statement, parameters = _captured_sql(database, lambda: store.due_account_ids(now))
    with database.engine.connect() as conn:
        prefix = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
        plan = " | ".join(
            str(row[-1]) for row in conn.exec_driver_sql(prefix + statement, parameters)
        )
    assert "ix_accounts_next_refresh_at" in plan, plan
    if database.is_sqlite:
        assert "SCAN accounts" not in plan and "TEMP B-TREE" not in plan, plan
    else:
        assert "Seq Scan" not in plan, plan

    # Later, the bulk rows fall due in next_refresh_at order, the needs_reauth tenth never.
    due = store.due_account_ids(now + timedelta(seconds=3600 + 20), limit=100)
    assert len(due) == 18
    short = store.save_connected(
        identity(), ["spark:all"], tokens(expires_in=HOUR), sent_at=now - timedelta(hours=2)
    )
    assert store.due_account_ids(now)[:1] == [short.id]
