"""Measure one sweep over 100,000 accounts of which none is due (the scheduler's idle cost).

Run: `.venv/bin/python -m bench.sweep [--accounts 100000] [--runs 5] [--database-url URL]`.
Without a URL it uses a SQLite file in a temporary folder. Rows are bulk-inserted (placeholder
ciphertexts: an idle sweep never decrypts), then `sweep` runs `--runs` times; it must make one
indexed query each time. Prints the timings (ms) and writes bench/results/sweep.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tokenbot.core.clock import FrozenClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.store import TokenStore
from tokenbot.core.sweep import sweep
from tokenbot.core.tokens import TokenSet

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.json"


class _NoCalls:
    """An OAuth client that must never be called: nothing is due."""

    def refresh(self, refresh_token: str) -> TokenSet:
        raise AssertionError("an idle sweep called the token endpoint")


def _fill(db: Database, clock: FrozenClock, accounts: int) -> None:
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for n in range(accounts):
        obtained = now - timedelta(seconds=n % 3600)
        expires = obtained + timedelta(days=14)
        rows.append(
            {
                "person_id": f"bench-person-{n}",
                "email": f"user{n}@example.com",
                "display_name": f"User {n}",
                "scopes": "spark:people_read",
                "status": AccountStatus.ACTIVE,
                "is_bot_identity": False,
                "access_token_enc": "placeholder",
                "refresh_token_enc": "placeholder",
                "access_expires_at": expires,
                "obtained_at": obtained,
                # Spread over the next day, like a real population refreshed by keep-alive.
                "next_refresh_at": now + timedelta(seconds=60 + (n * 86400) // accounts),
                "failure_count": 0,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    with db.write() as session:
        for start in range(0, len(rows), 5000):
            session.execute(sa.insert(Account), rows[start : start + 5000])
    # Fresh statistics, as autovacuum would gather after a bulk load: without them PostgreSQL
    # plans a sequential scan of the new table (17 ms here instead of about 1 ms).
    with db.write() as session:
        session.execute(sa.text("ANALYZE accounts"))


def run(accounts: int, runs: int, database_url: str | None) -> dict[str, Any]:
    """Fill the accounts table and time idle sweeps."""
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        upgrade(url)
        db = Database(url)
        clock = FrozenClock()
        cipher = TokenCipher.from_spec(TokenCipher.generate_key_spec("kbench"))
        store = TokenStore(db, cipher, clock=clock, policy=RefreshPolicy())
        _fill(db, clock, accounts)
        statements: list[str] = []
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(str(a[2])))
        timings = []
        for _ in range(runs):
            statements.clear()
            started = time.perf_counter()
            report = sweep(store, _NoCalls(), clock=clock, policy=RefreshPolicy(), owner="bench")
            timings.append((time.perf_counter() - started) * 1000)
            assert report.due == 0, report
            selects = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
            assert len(selects) == 1, statements
        db.dispose()
    return {
        "accounts": accounts,
        "due": 0,
        "backend": url.split(":", 1)[0],
        "runs": runs,
        "queries_per_sweep": 1,
        "min_ms": round(min(timings), 3),
        "median_ms": round(statistics.median(timings), 3),
        "max_ms": round(max(timings), 3),
    }


def main() -> None:
    """Run the measurement, print the figures and write them to bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    figures = run(args.accounts, args.runs, args.database_url)
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
