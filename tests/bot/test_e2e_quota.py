"""Others cannot spend the user's Webex quota (issue 11, finding 2), real SDK and emulator.

Deliveries are made by hand (signed as Webex signs them) after the bot's own webhook is
deleted, so each test knows exactly what reached the bot and can count, from the emulator's
call log, every Webex call the bot made for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import requests
import sqlalchemy as sa

from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import SECRET
from tests.plugins.bot import BotEnv
from tests.reliability.deliveries import envelope
from tests.reliability.deliveries import sign
from tokenbot.bot.router import AccessPolicy
from tokenbot.core.botstate import ProcessedMessage

STRANGER = "dave@example.com"


def _quiet(env: BotEnv) -> str:
    """Delete the bot's webhook (the emulator stops delivering); return its id."""
    hook_id = str(env.bot.registered_webhook_id())
    env.bot.upkeep.stop() if env.bot.upkeep else None  # it would register a new one
    env.bot.client.delete_webhook(hook_id)
    return hook_id


def _message(env: BotEnv, room: str, message_id: str) -> dict[str, Any]:
    return next(m for m in env.room_messages(room) if m["id"] == message_id)


def _deliver(env: BotEnv, hook_id: str, message: dict[str, Any]) -> requests.Response:
    body = envelope(hook_id, message)
    assert env.webhook_url is not None
    return requests.post(
        env.webhook_url,
        data=body,
        headers={"Content-Type": "application/json", "X-Spark-Signature": sign(SECRET, body)},
        timeout=10,
    )


def _fetches(env: BotEnv, message_id: str) -> int:
    return len(env.emulator.calls(path=f"/v1/messages/{message_id}", method="GET"))


def test_messages_the_bot_ignores_cost_no_webex_call(
    bot_env_factory: Callable[..., BotEnv], emulator: Any
) -> None:
    team = emulator.room_id("Team Space")
    env = bot_env_factory(
        "webhook", policy=AccessPolicy.of(emails=["bob@example.com"], spaces=[team])
    )
    hook_id = _quiet(env)
    other = env.room("Project X")
    # A space outside bot.allowed_spaces: no command is open to anyone but the user there.
    outside = _message(env, other, env.say(other, STRANGER, "/ping"))
    answer = _deliver(env, hook_id, outside)
    assert answer.status_code == 200 and answer.json()["status"] == "no_command_open"
    # The bot's own post, known by id once its post call returned.
    mine = _message(env, other, env.say(other, OWNER_EMAIL, "/ping"))
    assert _deliver(env, hook_id, mine).status_code == 202
    (reply,) = env.wait_replies(other, mine["id"])
    answer = _deliver(env, hook_id, _message(env, other, reply["id"]))
    assert answer.status_code == 200 and answer.json()["status"] == "own_post"
    assert env.bot.pool.wait_idle(10)
    assert _fetches(env, outside["id"]) == 0
    assert _fetches(env, reply["id"]) == 0
    assert env.replies(other, outside["id"]) == []


def test_with_nothing_open_to_everyone_a_strangers_chatter_costs_no_webex_call(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook", open_to_everyone=False)
    hook_id = _quiet(env)
    room = env.room("Project X")
    chatter = _message(env, room, env.say(room, STRANGER, "/ping"))
    answer = _deliver(env, hook_id, chatter)
    assert answer.status_code == 200 and answer.json()["status"] == "no_command_open"
    # The allowed people keep the commands open to everyone.
    asked = _message(env, room, env.say(room, "bob@example.com", "/ping"))
    assert _deliver(env, hook_id, asked).json()["status"] == "accepted"
    env.wait_replies(room, asked["id"])
    assert env.bot.pool.wait_idle(10)
    assert _fetches(env, chatter["id"]) == 0
    assert env.replies(room, chatter["id"]) == []


def test_a_strangers_flood_is_silenced_beyond_their_bucket_without_a_call(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook", sender_burst=3, sender_per_minute=0.1)
    hook_id = _quiet(env)
    room = env.room("Project X")
    flood = [_message(env, room, env.say(room, STRANGER, f"/ping {n}")) for n in range(8)]
    statuses = [_deliver(env, hook_id, m).json()["status"] for m in flood]
    assert statuses == ["accepted"] * 3 + ["throttled"] * 5
    assert env.bot.pool.wait_idle(10)
    assert [_fetches(env, m["id"]) for m in flood] == [1] * 3 + [0] * 5
    throttled = env.bot.metrics.throttled.labels(scope="sender")._value.get()
    assert throttled == 5
    # The user is never throttled.
    mine = _message(env, room, env.say(room, OWNER_EMAIL, "/ping"))
    assert _deliver(env, hook_id, mine).json()["status"] == "accepted"
    env.wait_replies(room, mine["id"])


def test_a_floods_leftovers_are_not_answered_later_by_the_reconciliation(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    # What flood control dropped is claimed: the background reconciliation, reading the space
    # later with a refilled bucket, must not answer the rest of the flood in old threads.
    env = bot_env_factory(
        "webhook",
        sender_burst=3,
        sender_per_minute=120,  # refilled within 2 s
        webhook_check_seconds=3600,
        reconcile_interval_seconds=0,  # rounds only when the test runs them
    )
    healer = env.bot.healer
    assert healer is not None
    hook_id = _quiet(env)
    room = env.room("Project X")
    flood = [_message(env, room, env.say(room, STRANGER, f"/ping {n}")) for n in range(10)]
    statuses = [_deliver(env, hook_id, m).json()["status"] for m in flood]
    dropped = [m["id"] for m, status in zip(flood, statuses, strict=True) if status == "throttled"]
    assert statuses[:3] == ["accepted"] * 3 and len(dropped) >= 5
    assert env.bot.pool.wait_idle(10)
    throttled = env.bot.metrics.throttled.labels(scope="sender")._value.get()
    assert throttled == len(dropped)
    with env.store.db.read() as session:
        claimed = dict(
            session.execute(
                sa.select(ProcessedMessage.message_id, ProcessedMessage.source).where(
                    ProcessedMessage.message_id.in_(dropped)
                )
            ).all()
        )
    assert claimed == dict.fromkeys(dropped, "throttled")  # one insert each, no Webex call
    assert sum(_fetches(env, message_id) for message_id in dropped) == 0
    time.sleep(2.0)  # the sender's bucket is full again
    healer.run_once(force=True)  # the background reconciliation reads the space again
    assert env.bot.pool.wait_idle(10)
    assert all(env.replies(room, message_id) == [] for message_id in dropped)
    assert env.bot.metrics.throttled.labels(scope="sender")._value.get() == throttled


def test_after_a_429_every_worker_waits_so_each_window_meets_one_429_at_most(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    window = 1.0
    env = bot_env_factory("webhook", workers=4, rate_window_seconds=window)
    hook_id = _quiet(env)
    room = env.room("Project X")
    commands = [_message(env, room, env.say(room, OWNER_EMAIL, f"/ping {n}")) for n in range(30)]
    before = len(env.emulator.calls())
    # 200 ms a call: one call at a time would make 5 a second, well below the budget of 12.
    env.emulator.settings(
        rate_limit_per_minute=12, rate_limit_window_seconds=window, latency_ms=200
    )
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=30) as pool:
            answers = list(pool.map(lambda m: _deliver(env, hook_id, m).status_code, commands))
        assert answers == [202] * 30
        for message in commands:
            env.wait_replies(room, message["id"], timeout=60)
        elapsed = time.monotonic() - started
    finally:
        env.emulator.settings(rate_limit_per_minute=None, latency_ms=0)
    calls = env.emulator.calls()[before:]
    limited = [c for c in calls if c["status"] == 429]
    windows = int(elapsed / window) + 1
    print(f"\n429s: {len(limited)} in {elapsed:.1f} s ({windows} windows of {window:g} s)")
    # Calls already in flight when the first 429 came may meet it too (at most one per
    # worker); after that, paced to the window: at most one 429 per window.
    assert limited and len(limited) <= windows + 4 - 1, limited
    # Paced, not one at a time: after the first 429, calls overlap (the next one leaves
    # before the one before it is answered).
    first = calls.index(limited[0])
    spans = sorted(_span(c) for c in calls[first:] if c["status"] == 200)
    overlapping = sum(1 for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1] - 0.05)
    assert overlapping >= 5, spans


def _span(call: dict[str, Any]) -> tuple[float, float]:
    """Return when a logged call left the bot and when its answer was back (seconds)."""
    left = datetime.fromisoformat(call["time"].replace("Z", "+00:00")).timestamp()
    # Logged half way (after 100 ms of the wire); the answer takes another 100 ms back.
    return left, left + call["duration_ms"] / 1000 + 0.1
