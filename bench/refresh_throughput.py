"""Measure refresh throughput: N accounts due at once, one sweep, against the emulator.

Run: `.venv/bin/python -m bench.refresh_throughput [--accounts 10000] [--workers N]
[--database-url URL] [--emulator-server waitress]`. Without a URL it uses a SQLite file in a
temporary folder. The emulator runs in its own process. Every account holds its own emulator
grant (minted through the control API, stored encrypted as the store does, bulk-inserted);
the frozen clock then moves past the keep-alive so all are due, and `sweep` refreshes them over
real HTTP with the real OAuth client and the real store. Prints seconds, accounts/s and the
peak RSS of this (the refreshing) process, and writes bench/results/refresh_throughput.json.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from bench.emulator_process import EmulatorProcess
from bench.figures import peak_rss_mb
from bench.figures import write_result
from tokenbot.core.clock import FrozenClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.settings import RefreshSettings
from tokenbot.core.store import TokenStore
from tokenbot.core.store import token_context
from tokenbot.core.sweep import sweep

REDIRECT_URI = "http://127.0.0.1:2000/redirect.html"
SCOPES = ["spark:people_read"]


@dataclass(frozen=True)
class RefreshBench:
    """A migrated store on a frozen clock, and an OAuth client of a fresh emulator integration."""

    db: Database
    clock: FrozenClock
    policy: RefreshPolicy
    cipher: TokenCipher
    store: TokenStore
    control: str  # the emulator's control API
    client: WebexOAuthClient

    @classmethod
    def open(cls, url: str, emulator: EmulatorProcess) -> RefreshBench:
        """Migrate `url`, build the store, register an integration at `emulator`."""
        upgrade(url)
        db = Database(url)
        clock = FrozenClock()
        policy = RefreshPolicy()
        cipher = TokenCipher.from_spec(TokenCipher.generate_key_spec("kbench"))
        control = f"{emulator.url}/_emulator/"
        client_id, client_secret = "C" + secrets.token_hex(32), secrets.token_hex(32)
        body = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [REDIRECT_URI],
            "scopes": SCOPES,
        }
        requests.post(control + "integrations", json=body, timeout=10).raise_for_status()
        client = WebexOAuthClient(
            client_id=client_id,
            client_secret=client_secret,
            authorize_url=f"{emulator.api_url}authorize",
            token_url=f"{emulator.api_url}access_token",
            api_base_url=emulator.api_url,
            redirect_uri=REDIRECT_URI,
            scopes=SCOPES,
        )
        store = TokenStore(db, cipher, clock=clock, policy=policy)
        return cls(db, clock, policy, cipher, store, control, client)


def _mint_all(control: str, client_id: str, count: int) -> list[dict[str, Any]]:
    body = {"client_id": client_id, "email": "alice@example.com", "scopes": SCOPES}
    local = requests.Session()

    def mint(_: int) -> dict[str, Any]:
        response = local.post(control + "tokens", json=body, timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(mint, range(count)))


def _insert(db: Database, cipher: TokenCipher, clock: FrozenClock, minted: list[Any]) -> None:
    now = clock.now()
    rows = []
    for n, grant in enumerate(minted):
        person = f"bench-person-{n}"
        rows.append(
            {
                "person_id": person,
                "email": f"user{n}@example.com",
                "display_name": f"User {n}",
                "scopes": " ".join(SCOPES),
                "status": AccountStatus.ACTIVE,
                "is_bot_identity": False,
                "access_token_enc": cipher.encrypt(
                    grant["access_token"], context=token_context(person, "access_token")
                ),
                "refresh_token_enc": cipher.encrypt(
                    grant["refresh_token"], context=token_context(person, "refresh_token")
                ),
                "access_expires_at": now + timedelta(seconds=int(grant["expires_in"])),
                "refresh_expires_at": now
                + timedelta(seconds=int(grant.get("refresh_token_expires_in") or 7776000)),
                "obtained_at": now,
                "next_refresh_at": now + timedelta(hours=24),
                "failure_count": 0,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    with db.write() as session:
        for start in range(0, len(rows), 5000):
            session.execute(sa.insert(Account), rows[start : start + 5000])


def run(
    accounts: int, workers: int, database_url: str | None, rotate: bool, server: str
) -> dict[str, Any]:
    """Fill a store with `accounts` due accounts and time one sweep over them."""
    with tempfile.TemporaryDirectory() as folder, EmulatorProcess(server) as emulator:
        url = database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        bench = RefreshBench.open(url, emulator)
        db, clock, cipher, store, control = (
            bench.db,
            bench.clock,
            bench.cipher,
            bench.store,
            bench.control,
        )
        settings = {"rotate_refresh_tokens": rotate}
        requests.post(control + "settings", json=settings, timeout=10).raise_for_status()
        started = time.perf_counter()
        minted = _mint_all(control, bench.client.client_id, accounts)
        _insert(db, cipher, clock, minted)
        setup_s = time.perf_counter() - started
        del minted
        clock.advance(24 * 3600 + 1)
        rss_before = peak_rss_mb()
        cpu_started = time.process_time()
        started = time.perf_counter()
        report = sweep(
            store,
            bench.client,
            clock=clock,
            policy=bench.policy,
            owner="bench",
            max_workers=workers,
            batch_limit=accounts,
        )
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        db.dispose()
    return {
        "accounts": accounts,
        "workers": workers,
        "backend": url.split(":", 1)[0],
        "emulator_server": server,
        "rotate_refresh_tokens": rotate,
        "setup_seconds": round(setup_s, 1),
        "refreshed": report.count("refreshed"),
        "counts": dict(report.counts),
        "seconds": round(elapsed, 3),
        "accounts_per_second": round(report.count("refreshed") / elapsed, 1),
        # CPU of this process over the sweep: near `seconds` means one core's worth (the GIL).
        "cpu_seconds": round(cpu, 2),
        "cpu_ms_per_account": round(cpu * 1000 / max(1, accounts), 2),
        "peak_rss_mb_before_sweep": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    """Run the measurement, print the figures and write them to bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=RefreshSettings().max_concurrency,
        help="refresh.max_concurrency (default: the config's)",
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rotate", action="store_true", help="emulator rotates refresh tokens")
    parser.add_argument("--emulator-server", default="waitress", choices=["waitress", "werkzeug"])
    args = parser.parse_args()
    figures = run(args.accounts, args.workers, args.database_url, args.rotate, args.emulator_server)
    for name, value in figures.items():
        print(f"{name:26s} {value}")
    print(f"written to {write_result('refresh_throughput', figures)}")


if __name__ == "__main__":
    main()
