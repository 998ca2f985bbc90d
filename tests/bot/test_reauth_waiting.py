"""What met a dead token is kept by id, bounded, and taken once; what had started is not kept."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa

from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import OWNER_ID
from tests.plugins.bot import FakeClient
from tokenbot.bot.message import Message
from tokenbot.bot.service import Bot
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import FrozenClock
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.reauth_waiting import WaitingCommand
from tokenbot.core.reauth_waiting import WaitingCommands


def _waiting(
    url: str, count: int, **options: object
) -> tuple[list[Database], list[WaitingCommands], FrozenClock]:
    upgrade(url)
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    databases = [Database(url) for _ in range(count)]
    return databases, [WaitingCommands(db, clock, **options) for db in databases], clock  # type: ignore[arg-type]


def test_two_instances_taking_the_same_kept_message_take_it_once(database_url: str) -> None:
    databases, stores, _ = _waiting(database_url, 2)
    try:
        assert stores[0].keep("MSG-1", kind="message", intake="webhook")
        assert not stores[1].keep("MSG-1", kind="message", intake="webhook")  # kept already
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def take(store: WaitingCommands) -> None:
            barrier.wait()
            results.append(store.take("MSG-1"))

        threads = [threading.Thread(target=take, args=(stores[i % 2],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [False] * 7 + [True]
        assert stores[1].count() == 0
    finally:
        for db in databases:
            db.dispose()


def test_the_store_is_bounded_by_count_and_age_and_holds_ids_only(database_url: str) -> None:
    databases, (store,), clock = _waiting(database_url, 1, limit=3)
    try:
        for n in range(3):
            assert store.keep(f"OTHER-{n}", kind="message", intake="webhook")
            clock.advance(1)
        # Full: anyone else's is not kept; the user's own pushes the oldest of others' out.
        assert not store.keep("OTHER-3", kind="message", intake="webhook")
        assert store.keep("MINE-1", kind="card", intake="webhook", urgent=True)
        assert [w.item_id for w in store.oldest(10)] == ["OTHER-1", "OTHER-2", "MINE-1"]
        assert store.oldest(10)[-1].kind == "card" and store.oldest(10)[-1].urgent
        assert not store.keep("x" * 256, kind="message", intake="webhook")  # not an id of ours
        # A day later they are gone, unanswered.
        clock.advance(86_401)
        assert store.count() == 0 and store.oldest(10) == []
        assert store.keep("NEW", kind="message", intake="webhook")
        with databases[0].read() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(WaitingCommand)) == 1
        # Ids, a kind, an intake, a flag and a time: no column for anyone's words.
        assert set(WaitingCommand.__table__.columns.keys()) == {
            "item_id",
            "kind",
            "intake",
            "urgent",
            "kept_at",
        }
    finally:
        databases[0].dispose()


def test_a_dead_token_before_the_command_started_keeps_it_after_does_not(
    make_bot: Callable[..., Bot],
    fake_client: FakeClient,
    bot_database: Database,
    frozen_clock: FrozenClock,
    bot_state: BotStateStore,
) -> None:
    waiting = WaitingCommands(bot_database, frozen_clock)
    bot = make_bot(waiting=waiting)
    dead = NeedsReauth("account 1 needs a new login", hint="connect it again")

    fake_client.fail_with = dead
    assert bot.process_id("MSG-UNREAD", "webhook", 0.0) == "needs_reauth"
    assert [(w.item_id, w.kind) for w in waiting.oldest(10)] == [("MSG-UNREAD", "message")]

    # Fetched, its handler ran, then the reply met the dead token: not kept (a second run of
    # a `remind` would set a second reminder).
    fake_client.fail_with = None
    message = fake_client.add(
        Message(
            id="MSG-RAN", room_id="ROOM", person_id=OWNER_ID, person_email=OWNER_EMAIL, text="/ping"
        )
    )

    def refuse(_: Message) -> None:
        raise dead

    fake_client.on_post = refuse
    assert bot.process(message, "polling") == "needs_reauth"
    assert [w.item_id for w in waiting.oldest(10)] == ["MSG-UNREAD"]
