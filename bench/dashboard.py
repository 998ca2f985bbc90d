"""Measure the panel's dashboard with 10,000 accounts in a SQLite file.

Run: `.venv/bin/python -m bench.dashboard [--accounts 10000] [--requests 200]`. Bulk-inserts the
accounts (in a mix of states, tokens encrypted as the store does), logs in with Flask's test
client, then times GET / (first page), GET /api/v1/accounts and GET /api/v1/status. Prints
p50/p99 in milliseconds and writes them to bench/results/dashboard.json. The goal: the first
page in under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher

from tokenbot.admin import create_app
from tokenbot.core.admins import AdminStore
from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.runtime import build_runtime
from tokenbot.core.store import token_context

RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.json"
PASSWORD = secrets.token_urlsafe(16)
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
# A mix like a real fleet: mostly healthy, a few due, failing, needing a login, disconnected.
_MIX = ["active"] * 90 + ["due"] * 4 + ["failing"] * 3 + ["reauth"] * 2 + ["gone"]


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def _insert_accounts(runtime: Any, count: int) -> None:
    now = runtime.clock.now()
    cipher = runtime.cipher
    rows = []
    for n in range(count):
        kind = _MIX[n % len(_MIX)]
        person = f"bench-person-{n:06d}"
        obtained = now - timedelta(hours=n % 20)
        access_expires = obtained + timedelta(days=14)
        row: dict[str, Any] = {
            "person_id": person,
            "email": f"user{n:06d}@example.com",
            "display_name": f"User {n:06d}",
            "org_id": "bench-org",
            "scopes": "spark:people_read spark:messages_read spark:messages_write",
            "status": AccountStatus.ACTIVE,
            "is_bot_identity": n == 0,
            "access_token_enc": cipher.encrypt(
                f"access-{n}-{secrets.token_hex(8)}", context=token_context(person, "access_token")
            ),
            "refresh_token_enc": cipher.encrypt(
                f"refresh-{n}-{secrets.token_hex(8)}",
                context=token_context(person, "refresh_token"),
            ),
            "access_expires_at": access_expires,
            "refresh_expires_at": obtained + timedelta(days=90),
            "obtained_at": obtained,
            "last_refreshed_at": obtained if n % 3 else None,
            "next_refresh_at": obtained + timedelta(days=1),
            "failure_count": 0,
            "last_error": None,
            "version": 1,
            "created_at": obtained - timedelta(days=n % 60),
            "updated_at": obtained,
        }
        if kind == "due":
            row["next_refresh_at"] = now - timedelta(minutes=5)
        elif kind == "failing":
            row.update(status=AccountStatus.REFRESH_FAILING, failure_count=3)
            row["last_error"] = "oauth_transient: Webex answered 503"
        elif kind == "reauth":
            row.update(status=AccountStatus.NEEDS_REAUTH, last_error="invalid_grant")
        elif kind == "gone":
            row.update(
                status=AccountStatus.DISCONNECTED,
                access_token_enc=None,
                refresh_token_enc=None,
                next_refresh_at=None,
            )
        rows.append(row)
    with runtime.database.write() as session:
        session.execute(sa.insert(Account), rows)


def _login(client: Any) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = _CSRF.search(page).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"csrf_token": token, "username": "bench", "password": PASSWORD}
    )
    if response.status_code != 303:
        raise SystemExit(f"login failed: {response.status_code}")


def _time(client: Any, path: str, count: int) -> dict[str, float]:
    for _ in range(20):
        assert client.get(path).status_code == 200, path  # warm-up: templates, caches
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        response.get_data()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return {
        "requests": count,
        "p50_ms": round(_percentile(samples, 0.50), 2),
        "p99_ms": round(_percentile(samples, 0.99), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
        "max_ms": round(max(samples), 2),
    }


def main() -> None:
    """Build the database, log in, time the pages, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tokenbot-bench-") as folder:
        env = {
            "WEBEX_CLIENT_ID": "C" + secrets.token_hex(16),
            "WEBEX_CLIENT_SECRET": secrets.token_hex(32),
            "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
            "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("bench"),
        }
        settings = load_settings(
            "/dev/null",
            env=env,
            overrides={
                "database": {"url": f"sqlite:///{Path(folder) / 'bench.sqlite3'}"},
                "webex": {"api_base_url": "http://127.0.0.1:9/v1/"},
            },
        )
        runtime = build_runtime(settings)
        try:
            started = time.perf_counter()
            _insert_accounts(runtime, args.accounts)
            insert_s = time.perf_counter() - started
            admins = AdminStore(
                runtime.database,
                clock=runtime.clock,
                hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
            )
            admins.create_admin("bench", PASSWORD)
            app = create_app(settings, runtime, admins=admins, scheduler_alive=lambda: True)
            client = app.test_client()
            _login(client)
            figures = {
                "accounts": args.accounts,
                "insert_seconds": round(insert_s, 2),
                "GET /": _time(client, "/", args.requests),
                "GET /?q=user0099": _time(client, "/?q=user0099", args.requests),
                "GET /api/v1/accounts": _time(client, "/api/v1/accounts", args.requests),
                "GET /api/v1/status": _time(client, "/api/v1/status", args.requests),
            }
        finally:
            runtime.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"dashboard with {args.accounts} accounts (inserted in {insert_s:.1f} s):")
    for name, value in figures.items():
        if isinstance(value, dict):
            print(f"  {name:<22} p50 {value['p50_ms']:7.2f} ms   p99 {value['p99_ms']:7.2f} ms")
    first = figures["GET /"]
    verdict = "meets" if first["p99_ms"] < 100 else "MISSES"
    print(f"first page {verdict} the 100 ms goal (p99)")


if __name__ == "__main__":
    main()
