"""The bot's state in the database: one claim wins, own posts are known, cursors persist."""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from tokenbot.core.botstate import BotStateStore
from tokenbot.core.botstate import RoomCursor
from tokenbot.core.clock import FrozenClock
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade


def _stores(url: str, count: int) -> tuple[list[Database], list[BotStateStore], FrozenClock]:
    upgrade(url)
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    databases = [Database(url) for _ in range(count)]
    return databases, [BotStateStore(db, clock) for db in databases], clock


def test_two_instances_claiming_the_same_message_act_once(database_url: str) -> None:
    databases, stores, _ = _stores(database_url, 2)
    try:
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def claim(store: BotStateStore) -> None:
            barrier.wait()
            results.append(store.claim_message("MSG-1", source="webhook"))

        threads = [threading.Thread(target=claim, args=(stores[i % 2],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [False] * 7 + [True]
        assert stores[1].is_processed("MSG-1")
        stores[0].release_message("MSG-1")
        assert stores[1].claim_message("MSG-1", source="polling")
    finally:
        for db in databases:
            db.dispose()


def test_own_posts_are_known_while_pending_and_after(database_url: str) -> None:
    databases, (store,), clock = _stores(database_url, 1)
    try:
        key = store.begin_post("ROOM", "fp-1")
        # In flight: only the fingerprint can tell; a different content is not ours.
        assert store.is_own_post("NEW-ID", {"fp-1"})
        assert not store.is_own_post("NEW-ID", {"fp-2"})
        store.finish_post(key, "POST-1")
        assert store.is_own_post("POST-1")
        # Once the id is known, the same content typed by the user is not mistaken for ours.
        assert not store.is_own_post("USER-TYPED", {"fp-1"})
        failed = store.begin_post("ROOM", "fp-3")
        store.abandon_post(failed)
        assert not store.is_own_post("X", {"fp-3"})
        clock.advance(8 * 86400)
        assert store.prune(timedelta(days=7)) >= 1
        assert not store.is_own_post("POST-1")
    finally:
        databases[0].dispose()


def test_cursors_values_and_counters_survive_a_new_store(database_url: str) -> None:
    databases, (first, second), _ = _stores(database_url, 2)
    try:
        first.save_cursor(RoomCursor("R1", "M1", "2026-01-01T00:00:00.001Z", "a"))
        first.save_cursor(RoomCursor("R1", "M2", "2026-01-01T00:00:00.002Z", "b"))
        assert second.cursor("R1") == RoomCursor("R1", "M2", "2026-01-01T00:00:00.002Z", "b")
        assert second.cursor("R2") is None
        first.set_values({"mode": "webhook", "webhook_registered": True})
        first.add_counters({"commands_total": 2, "commands_ok": 1})
        second.add_counters({"commands_total": 3})
        second.record_error("boom", error_id="abcd")
        snapshot = first.snapshot()
        assert snapshot.get("mode") == "webhook"
        assert snapshot.get("webhook_registered") is True
        assert snapshot.get("last_error") == "boom"
        assert snapshot.counters == {"commands_total": 5, "commands_ok": 1, "errors": 1}
    finally:
        for db in databases:
            db.dispose()
