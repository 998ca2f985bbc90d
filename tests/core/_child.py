"""A separate OS process for the exactly-once and crash-safety tests.

Usage: ``python -m tests.core._child CONFIG_JSON_FILE``. The config names the mode:

- ``hammer``: build store + client + TokenService, start `threads` threads that wait for the
  `go` file, then all call ``access_token(account_id)``; print the tokens' fingerprints and any
  errors as one JSON line.
- ``crash``: run ``refresh_account`` and, at `point` (``before_call``, ``after_call`` or
  ``after_commit``), create the `marker` file and block until the parent kills the process.

The cipher key spec comes in the environment (``TOKENBOT_TEST_KEY_SPEC``), never in argv.
This file is the test-only hook: the library itself reads no such variable.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tokenbot.core.clock import SystemClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.logs import fingerprint
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.refresher import make_owner
from tokenbot.core.refresher import refresh_account
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService


def _wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        time.sleep(0.001)
    raise TimeoutError(f"{path} did not appear within {timeout} s")


def _build(config: dict[str, Any]) -> tuple[TokenStore, WebexOAuthClient, RefreshPolicy]:
    clock = SystemClock()
    policy = RefreshPolicy()
    cipher = TokenCipher.from_spec(os.environ["TOKENBOT_TEST_KEY_SPEC"])
    store = TokenStore(Database(config["database_url"]), cipher, clock=clock, policy=policy)
    client = WebexOAuthClient(
        client_id=config["client_id"],
        client_secret=os.environ["TOKENBOT_TEST_CLIENT_SECRET"],
        authorize_url=config["emulator_url"] + "/v1/authorize",
        token_url=config["emulator_url"] + "/v1/access_token",
        api_base_url=config["emulator_url"] + "/v1/",
        redirect_uri=config["redirect_uri"],
        scopes=config["scopes"],
        timeout_seconds=5,
    )
    return store, client, policy


def hammer(config: dict[str, Any]) -> dict[str, Any]:
    """Call access_token from many threads at once; report fingerprints and errors."""
    store, client, policy = _build(config)
    service = TokenService(
        store, client, clock=SystemClock(), policy=policy, owner_prefix=config["name"]
    )
    go = Path(config["go"])
    tokens: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            _wait_for(go, 30)
            token = service.access_token(config["account_id"])
            with lock:
                tokens.append(fingerprint(token))
        except Exception as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run) for _ in range(config["threads"])]
    for thread in threads:
        thread.start()
    Path(config["ready"]).touch()
    for thread in threads:
        thread.join(60)
    return {"tokens": tokens, "errors": errors}


def crash(config: dict[str, Any]) -> dict[str, Any]:
    """Refresh, and stop dead at the configured point until killed."""
    store, client, policy = _build(config)
    marker = Path(config["marker"])

    def stop_here() -> None:
        marker.touch()
        time.sleep(120)  # the parent SIGKILLs us long before this ends

    point = config["point"]
    hooks = {f"_{point}": stop_here}
    outcome = refresh_account(
        store,
        client,
        config["account_id"],
        clock=SystemClock(),
        policy=policy,
        owner=make_owner("crash-child"),
        lease_seconds=config["lease_seconds"],
        force=True,
        **hooks,  # type: ignore[arg-type]
    )
    return {"result": outcome.result}


def main() -> None:
    """Run the mode named in the config file and print its JSON result."""
    config = json.loads(Path(sys.argv[1]).read_text())
    mode = {"hammer": hammer, "crash": crash}[config["mode"]]
    print(json.dumps(mode(config)), flush=True)


if __name__ == "__main__":
    main()
