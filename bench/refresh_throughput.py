"""Measure refresh throughput: N accounts due at once, one sweep, against the emulator.

Run: `.venv/bin/python -m bench.refresh_throughput [--accounts 1000] [--workers 8]
[--database-url URL]`. Without a URL it uses a SQLite file in a temporary folder. Every account
holds its own emulator grant (minted through the control API); the frozen clock then moves past
the keep-alive so all are due, and `sweep` refreshes them over real HTTP with the real OAuth
client and the real store. Prints accounts/s and writes bench/results/refresh_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from core.clock import FrozenClock
from core.crypto import TokenCipher
from core.db import Database
from core.db import upgrade
from core.oauth import WebexOAuthClient
from core.policy import RefreshPolicy
from core.refresher import sweep
from core.store import TokenStore
from core.tokens import Identity
from core.tokens import TokenSet
from emulator import EmulatorServer

RESULTS = Path(__file__).resolve().parent / "results" / "refresh_throughput.json"
REDIRECT_URI = "http://127.0.0.1:2000/redirect.html"
SCOPES = ["spark:people_read"]


def _mint(control: str, http: requests.Session, client_id: str) -> dict[str, Any]:
    body = {"client_id": client_id, "email": "alice@example.com", "scopes": SCOPES}
    response = http.post(control + "tokens", json=body, timeout=10)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def run(accounts: int, workers: int, database_url: str | None, rotate: bool) -> dict[str, Any]:
    """Fill a store with `accounts` due accounts and time one sweep over them."""
    with tempfile.TemporaryDirectory() as folder, EmulatorServer() as server:
        url = database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        upgrade(url)
        db = Database(url)
        clock = FrozenClock()
        policy = RefreshPolicy()
        cipher = TokenCipher.from_spec(TokenCipher.generate_key_spec("kbench"))
        store = TokenStore(db, cipher, clock=clock, policy=policy)
        control = f"{server.url}/_emulator/"
        client_id, client_secret = "C" + secrets.token_hex(32), secrets.token_hex(32)
        with requests.Session() as http:
            body = {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [REDIRECT_URI],
                "scopes": SCOPES,
            }
            http.post(control + "integrations", json=body, timeout=10).raise_for_status()
            body = {"rotate_refresh_tokens": rotate}
            http.post(control + "settings", json=body, timeout=10).raise_for_status()
            for n in range(accounts):
                minted = _mint(control, http, client_id)
                store.save_connected(
                    Identity(f"bench-person-{n}", f"user{n}@example.com", f"User {n}"),
                    SCOPES,
                    TokenSet(
                        access_token=minted["access_token"],
                        expires_in=int(minted["expires_in"]),
                        refresh_token=minted["refresh_token"],
                        refresh_token_expires_in=minted.get("refresh_token_expires_in"),
                    ),
                    sent_at=clock.now(),
                )
        client = WebexOAuthClient(
            client_id=client_id,
            client_secret=client_secret,
            authorize_url=f"{server.url}/v1/authorize",
            token_url=f"{server.url}/v1/access_token",
            api_base_url=server.api_url,
            redirect_uri=REDIRECT_URI,
            scopes=SCOPES,
        )
        clock.advance(24 * 3600 + 1)
        started = time.perf_counter()
        report = sweep(
            store,
            client,
            clock=clock,
            policy=policy,
            owner="bench",
            max_workers=workers,
            batch_limit=accounts,
        )
        elapsed = time.perf_counter() - started
        db.dispose()
    return {
        "accounts": accounts,
        "workers": workers,
        "backend": url.split(":", 1)[0] if database_url else "sqlite",
        "rotate_refresh_tokens": rotate,
        "refreshed": report.count("refreshed"),
        "counts": dict(report.counts),
        "seconds": round(elapsed, 3),
        "accounts_per_second": round(report.count("refreshed") / elapsed, 1),
    }


def main() -> None:
    """Run the measurement, print the figures and write them to bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rotate", action="store_true", help="emulator rotates refresh tokens")
    args = parser.parse_args()
    figures = run(args.accounts, args.workers, args.database_url, args.rotate)
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
