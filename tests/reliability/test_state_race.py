"""Instances starting together write the same new bot-state keys at once: no one may fail.

Found by the two-instance scenario: on PostgreSQL both `tokenbot serve` processes found a key
missing and inserted it, and the loser died at start with a duplicate key error. Here many
threads, each with its own engine like a separate instance, race on fresh keys at a barrier.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import SystemClock
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade

WRITERS = 6
ROUNDS = 30


@pytest.mark.postgres
def test_writers_racing_on_new_keys_all_succeed(postgres_url: str) -> None:
    upgrade(postgres_url)
    databases = [Database(postgres_url) for _ in range(WRITERS)]
    stores = [BotStateStore(database, SystemClock()) for database in databases]
    barrier = threading.Barrier(WRITERS)

    def write(index: int) -> None:
        for round_ in range(ROUNDS):
            barrier.wait(timeout=30)
            stores[index].set_values({f"key-{round_}": index, "mode": "webhook"})

    try:
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            for future in [pool.submit(write, i) for i in range(WRITERS)]:
                future.result(timeout=120)
        assert {stores[0].value(f"key-{r}") for r in range(ROUNDS)} <= set(range(WRITERS))
        assert stores[0].value("mode") == "webhook"
    finally:
        for database in databases:
            database.dispose()
