"""Token endpoint chaos: refresh a crowd while Webex fails a lot, and lose no one.

A real `tokenbot serve --role scheduler` refreshes every due account while the emulator's token
endpoint answers, in a seeded random order, 30 % of the calls with a 5xx, 10 % with a 429
(`Retry-After: 1`) and lets 5 % hang past the client's timeout before dropping the connection.
The emulator rotates refresh tokens, so refreshing an account twice would end in
`invalid_grant` and `needs_reauth`: "none refreshed twice" is visible, not assumed.

Proven: every account refreshed exactly once (one `refreshed` event each, and the emulator
answered exactly as many refresh calls with new tokens as there are accounts); none needs a
login; and every stored refresh token is the one Webex accepts now (one more refresh of each,
in the test process, succeeds).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import wait_until
from tests.reliability.crowd import answered_refreshes
from tests.reliability.crowd import connect_due
from tests.reliability.crowd import crowd_emails
from tests.reliability.crowd import ledger
from tests.reliability.serve import Deployment
from tokenbot.core.clock import SystemClock

# Accounts refreshed under chaos: the short form runs in `make test`, the long one in `make soak`.
SIZES = [
    pytest.param(150, id="short"),
    pytest.param(1000, id="soak", marks=[pytest.mark.soak, pytest.mark.timeout(1800)]),
]
TOKEN_PATH = "/v1/access_token"
MIX = {"ok": 55, "5xx": 30, "429": 10, "hang": 5}
CLIENT_TIMEOUT = 1  # webex.timeout_seconds (the smallest allowed)
HANG_SECONDS = 1.5  # longer than the client waits


def chaos_rules(rng: random.Random, calls: int) -> list[dict[str, Any]]:
    """Return fault rules for the next `calls` token calls, drawn from `MIX`, runs merged."""
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=calls)
    rules: list[dict[str, Any]] = []
    for kind in kinds:
        if kind == "ok" and rules and rules[-1].get("delay_seconds") == 0:
            rules[-1]["count"] += 1
            continue
        rule: dict[str, Any] = {"path": TOKEN_PATH, "method": "POST", "count": 1}
        if kind == "ok":
            rule["delay_seconds"] = 0  # a rule that lets the call through untouched
        elif kind == "5xx":
            rule["status"] = rng.choice([500, 502, 503, 504])
        elif kind == "429":
            rule.update(status=429, retry_after=1)
        else:
            rule.update(delay_seconds=HANG_SECONDS, drop=True)
        rules.append(rule)
    return rules


@pytest.mark.parametrize("accounts", SIZES)
def test_every_account_is_refreshed_exactly_once_through_token_endpoint_chaos(
    deploy: Callable[..., Deployment],
    emulator: EmulatorHandle,
    sqlite_url: str,
    accounts: int,
) -> None:
    emulator.settings(rotate_refresh_tokens=True)
    deployment = deploy(
        sqlite_url,
        webex={"timeout_seconds": CLIENT_TIMEOUT},
        refresh={
            "lease_seconds": 5,
            "backoff_base_seconds": 0.1,
            "backoff_max_seconds": 0.5,
            "max_concurrency": 8,
        },
    )
    with deployment.runtime() as runtime:
        ids = connect_due(
            runtime.store,
            emulator,
            deployment.client_id,
            crowd_emails(accounts),
            now=SystemClock().now(),
        )
        assert set(runtime.store.due_account_ids(SystemClock().now(), limit=accounts)) == set(ids)
        rules = chaos_rules(random.Random(accounts), int(accounts / 0.55 * 1.4))
        for rule in rules:
            emulator.control("POST", "faults", rule)
        hangs = sum(1 for rule in rules if rule.get("drop"))

        started = time.monotonic()
        serve = deployment.spawn("chaos", roles="scheduler", web=False).wait_ready()
        wait_until(
            lambda: ledger(runtime.database).settled(ids),
            timeout=accounts * 0.6 + 60,
            interval=0.25,
            what=f"{accounts} accounts refreshed under chaos",
        )
        took = time.monotonic() - started
        assert serve.alive()
        assert serve.stop() == 0, serve.stderr()[-3000:]
        log = serve.stderr()
        assert "Traceback" not in log and "ALARM" not in log, log[-3000:]

        # Hung calls end (and are logged) only after the client gave up: wait for them.
        left = emulator.control("GET", "faults")["items"]
        hung = hangs - sum(rule["remaining"] for rule in left if rule["drop"])
        wait_until(
            lambda: sum(1 for c in emulator.calls(TOKEN_PATH) if c.get("dropped")) >= hung,
            timeout=10,
            what="the hung token calls to end",
        )
        emulator.control("DELETE", "faults")

        book = ledger(runtime.database)
        assert [i for i in ids if book.status[i] != "active"] == []
        assert sum(book.needs_reauth.values()) == 0
        assert [i for i in ids if book.refreshed[i] != 1] == []
        assert answered_refreshes(emulator) == accounts
        statuses = Counter(c.get("status") for c in emulator.calls(TOKEN_PATH))
        failed = sum(n for status, n in statuses.items() if status not in (200, None))
        # The chaos really happened: every kind of failure hit some refresh.
        assert statuses[429] > 0 and statuses[None] > 0 and failed - statuses[429] > 0, statuses
        print(
            f"\nchaos: {accounts} accounts refreshed in {took:.1f} s through "
            f"{sum(statuses.values())} token calls ({dict(statuses)})"
        )

        # I1: each stored refresh token is the one Webex accepts now (rotation is on).
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = Counter(o.result for o in pool.map(runtime.tokens.force_refresh, ids))
        assert results == {"refreshed": accounts}
