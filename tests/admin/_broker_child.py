"""A separate OS process running the panel app, for the broker's exactly-once test.

Usage: ``python -m tests.admin._broker_child CONFIG_JSON_FILE``. It builds its own settings,
runtime and Flask app over the shared database, starts `threads` threads that wait for the
`go` file, and then each POSTs to the broker route once through its own test client; it
prints the statuses and the fingerprints of the tokens it got as one JSON line.

Secrets come in the environment (``TOKENBOT_TEST_KEY_SPEC``, ``TOKENBOT_TEST_CLIENT_SECRET``,
``TOKENBOT_TEST_API_TOKEN``), never in argv. Test-only: the library reads no such variable.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.plugins.panel import make_settings
from tokenbot.admin import create_app
from tokenbot.core.admins import AdminStore
from tokenbot.core.logs import fingerprint
from tokenbot.core.runtime import build_runtime


def _wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        time.sleep(0.001)
    raise TimeoutError(f"{path} did not appear within {timeout} s")


def main() -> None:
    """Hammer the broker route from many threads; print statuses and fingerprints."""
    config: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
    settings = make_settings(
        emulator_url=config["emulator_url"],
        client_id=config["client_id"],
        client_secret=os.environ["TOKENBOT_TEST_CLIENT_SECRET"],
        database_url=config["database_url"],
        env={
            "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
            "TOKENBOT_ENCRYPTION_KEYS": os.environ["TOKENBOT_TEST_KEY_SPEC"],
        },
        extra={"broker": {"enabled": True, "requests_per_minute": 1000}},
    )
    runtime = build_runtime(settings, migrate=False)
    app = create_app(settings, runtime, admins=AdminStore(runtime.database, clock=runtime.clock))
    go = Path(config["go"])
    path = f"/api/v1/accounts/{config['account_id']}/access-token"
    headers = {"Authorization": f"Bearer {os.environ['TOKENBOT_TEST_API_TOKEN']}"}
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run() -> None:
        client = app.test_client()
        try:
            _wait_for(go, 30)
            answer = client.post(path, headers=headers)
            body = answer.get_json() or {}
            token = body.get("access_token")
            item = {"status": answer.status_code, "token": token and fingerprint(token)}
        except Exception as exc:
            item = {"status": 0, "error": f"{type(exc).__name__}: {exc}"}
        with lock:
            results.append(item)

    threads = [threading.Thread(target=run) for _ in range(config["threads"])]
    for thread in threads:
        thread.start()
    Path(config["ready"]).touch()
    for thread in threads:
        thread.join(60)
    runtime.close()
    print(json.dumps({"results": results}), flush=True)


if __name__ == "__main__":
    main()
