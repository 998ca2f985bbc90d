"""A silent intake: the token is valid, Webex says the webhook is active, and nothing arrives.

Real SDK, real emulator, real webhook endpoint on loopback, a Standard Webhooks receiver that
verifies with the `standardwebhooks` package. The emulator swallows the deliveries the way a
proxy or an old target address would (`webhook_drop_deliveries`): no failure is counted, so the
webhook stays `active` and the healer's webhook check sees nothing wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from tests.notify.receiver import Receiver
from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until
from tests.reliability.chat import UNTHROTTLED
from tokenbot.core.botstate import ProcessedMessage
from tokenbot.core.clock import SystemClock
from tokenbot.core.config import notify_secret_key
from tokenbot.core.notify import Dispatcher
from tokenbot.core.notify import Outbox
from tokenbot.core.notify import Target
from tokenbot.core.notify import WebhookSender
from tokenbot.core.notify import intake_state_hook
from tokenbot.process import bot_status_reader

GRACE = 1.0


def _past_grace(env: BotEnv, message_id: str) -> None:
    """Wait until `message_id` is older than the grace (a delivery can no longer be late)."""
    (created,) = [m["created"] for m in env.room_messages(_room(env)) if m["id"] == message_id]
    moment = datetime.fromisoformat(created.replace("Z", "+00:00")) + timedelta(seconds=GRACE)
    wait_until(lambda: SystemClock().now() > moment, timeout=5, what="the grace to pass")


def _room(env: BotEnv) -> str:
    return env.room("Team Space")


def _source(env: BotEnv, message_id: str) -> str | None:
    with env.store.db.read() as session:
        return session.execute(
            sa.select(ProcessedMessage.source).where(ProcessedMessage.message_id == message_id)
        ).scalar_one_or_none()


def _notifications(
    env: BotEnv, receiver: Receiver, secret: str, intake: str = "webhook"
) -> Dispatcher:
    clock = SystemClock()
    outbox = Outbox(env.store.db, [Target.webhook(receiver.url)], clock=clock)
    assert env.bot.healer is not None
    env.bot.healer.on_state = intake_state_hook(outbox, intake)
    sender = WebhookSender(notify_secret_key(secret), timeout_seconds=5)
    return Dispatcher(outbox, {"webhook": sender}, clock=clock, owner="test")


def test_a_silent_webhook_is_its_own_state_told_once_answered_once_and_cleared(
    bot_env_factory: Callable[..., BotEnv], receiver: Receiver, notify_secret: str
) -> None:
    env = bot_env_factory(
        "webhook",
        webhook_check_seconds=3600,
        reconcile_interval_seconds=0,  # rounds only when the test runs them
        silence_grace_seconds=GRACE,
        silence_misses=2,
        **UNTHROTTLED,
    )
    healer = env.bot.healer
    assert healer is not None
    dispatcher = _notifications(env, receiver, notify_secret)
    wait_until(lambda: env.bot.state.value("webhook_id"), timeout=15, what="webhook registered")
    healer.run_once(force=True)  # the first round sets the cursors
    room = _room(env)

    # Working deliveries first: a round that finds only delivered messages says nothing.
    ok = env.say(room, "bob@example.com", "/echo delivered")
    env.wait_replies(room, ok)
    assert _source(env, ok) == "webhook"
    _past_grace(env, ok)
    healer.run_once(force=True)
    assert env.bot.state.value("intake_state") != "silent"
    assert env.bot.state.counter("intake_missed") == 0

    # Webex accepts the messages, the webhook stays active, and nothing reaches the bot.
    env.emulator.settings(webhook_drop_deliveries=True)
    lost = [env.say(room, "bob@example.com", f"/echo lost {i}") for i in range(3)]
    _past_grace(env, lost[-1])
    assert all(env.replies(room, message_id) == [] for message_id in lost)
    report = healer.run_once(force=True)  # the background reconciliation
    assert report.status == "active" and not report.reactivated  # Webex sees nothing wrong
    for message_id in lost:
        env.wait_replies(room, message_id)  # answered by the reconciliation
        assert _source(env, message_id) == "polling"
    facts = bot_status_reader(env.bot.state)()  # what the bot card, API and /metrics read
    assert facts["intake_state"] == "silent"
    assert "silent" in str(facts["intake_state_reason"])
    assert facts["intake_missed"] == 3
    assert facts["webhook_status"] == "active"

    dispatcher.run()
    wait_until(lambda: receiver.types() == ["intake.down"], timeout=10, what="intake.down")
    (event,) = receiver.unique()
    assert event.data["state"] == "silent" and event.data["intake"] == "webhook"
    assert receiver.bad == []

    # Still silent at the next round and the next webhook check: nothing new is announced.
    more = env.say(room, "bob@example.com", "/echo lost again")
    _past_grace(env, more)
    healer.run_once(force=True)
    env.wait_replies(room, more)
    assert env.bot.state.value("intake_state") == "silent"
    dispatcher.run()
    assert receiver.types() == ["intake.down"]

    # Deliveries restored: the next delivered message clears it at the next tick (no round).
    env.emulator.settings(webhook_drop_deliveries=False)
    back = env.say(room, "bob@example.com", "/echo back")
    env.wait_replies(room, back)
    assert _source(env, back) == "webhook"
    healer.run_once()  # a tick: no webhook check, no reconciliation is due
    assert env.bot.state.value("intake_state") == "up"
    dispatcher.run()
    wait_until(lambda: len(receiver.unique()) == 2, timeout=10, what="intake.up")
    assert receiver.types() == ["intake.down", "intake.up"]
    assert receiver.unique()[1].data["state"] == "up"

    replies = [
        m
        for m in env.room_messages(room)
        if m.get("personEmail") == OWNER_EMAIL and m.get("parentId") in {*lost, more}
    ]
    assert len(replies) == len(lost) + 1  # every missed command answered exactly once


def test_one_missed_message_is_not_yet_silence(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory(
        "webhook",
        webhook_check_seconds=3600,
        reconcile_interval_seconds=0,
        silence_grace_seconds=GRACE,
        silence_misses=2,
        **UNTHROTTLED,
    )
    healer = env.bot.healer
    assert healer is not None
    wait_until(lambda: env.bot.state.value("webhook_id"), timeout=15, what="webhook registered")
    healer.run_once(force=True)
    room = _room(env)
    started = healer.silence.ready_at + timedelta(seconds=GRACE)  # earlier is no evidence
    wait_until(lambda: SystemClock().now() > started, timeout=5, what="the start's grace")
    env.emulator.settings(webhook_drop_deliveries=True)
    lost = env.say(room, "bob@example.com", "/echo lost once")
    _past_grace(env, lost)
    healer.run_once(force=True)
    env.wait_replies(room, lost)
    assert env.bot.state.counter("intake_missed") == 1
    assert env.bot.state.value("intake_state") != "silent"


def test_a_connected_websocket_that_delivers_nothing_is_silent_answered_once_and_cleared(
    bot_env_factory: Callable[..., BotEnv], receiver: Receiver, notify_secret: str
) -> None:
    # A real Mercury socket on loopback that stays open and answers pings but delivers no
    # activity (`mercury_drop_activities`): only the background reconciliation sees the gap.
    env = bot_env_factory(
        "websocket",
        reconcile_interval_seconds=0,  # rounds only when the test runs them
        silence_grace_seconds=GRACE,
        silence_misses=2,
        **UNTHROTTLED,
    )
    healer = env.bot.healer
    assert healer is not None and not healer.check_webhook
    intake = env.bot.websocket
    assert intake is not None
    dispatcher = _notifications(env, receiver, notify_secret, "websocket")
    wait_until(lambda: intake.connected and intake.holds_lease, timeout=15, what="the socket")
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the backfill's first round")
    room = _room(env)
    started = healer.silence.ready_at + timedelta(seconds=GRACE)  # the connect's window
    wait_until(lambda: SystemClock().now() > started, timeout=5, what="the connect's grace")

    ok = env.say(room, "bob@example.com", "/echo delivered")
    env.wait_replies(room, ok)
    assert _source(env, ok) == "websocket"
    _past_grace(env, ok)
    assert healer.run_once(force=True).checked is False  # no webhook to check
    assert env.bot.state.value("intake_state") != "silent"
    assert env.bot.state.counter("intake_missed") == 0

    env.emulator.settings(mercury_drop_activities=True)
    lost = [env.say(room, "bob@example.com", f"/echo lost {i}") for i in range(3)]
    _past_grace(env, lost[-1])
    assert all(env.replies(room, message_id) == [] for message_id in lost)
    assert intake.connected and env.emulator.control("GET", "websockets")["items"]
    report = healer.run_once(force=True)  # the background reconciliation
    assert report.reconciled == len(lost)
    for message_id in lost:
        env.wait_replies(room, message_id)  # answered by the reconciliation
        assert _source(env, message_id) == "polling"
    facts = bot_status_reader(env.bot.state)()
    assert facts["intake_state"] == "silent"
    assert facts["intake_missed"] == 3
    assert facts["websocket_state"] == "connected"  # the socket itself looks fine

    dispatcher.run()
    wait_until(lambda: receiver.types() == ["intake.down"], timeout=10, what="intake.down")
    (event,) = receiver.unique()
    assert event.data["state"] == "silent" and event.data["intake"] == "websocket"
    assert receiver.bad == []

    more = env.say(room, "bob@example.com", "/echo lost again")
    _past_grace(env, more)
    healer.run_once(force=True)
    env.wait_replies(room, more)
    dispatcher.run()
    assert receiver.types() == ["intake.down"]  # still silent: said once

    env.emulator.settings(mercury_drop_activities=False)
    back = env.say(room, "bob@example.com", "/echo back")
    env.wait_replies(room, back)
    assert _source(env, back) == "websocket"
    healer.run_once()  # a tick: no reconciliation is due
    assert env.bot.state.value("intake_state") == "up"
    dispatcher.run()
    wait_until(lambda: len(receiver.unique()) == 2, timeout=10, what="intake.up")
    assert receiver.types() == ["intake.down", "intake.up"]

    assert env.bot.pool.wait_idle(10)
    for message_id in (*lost, more):
        assert len(env.replies(room, message_id)) == 1  # every missed command answered once


def test_a_standby_instance_does_not_reconcile(bot_env_factory: Callable[..., BotEnv]) -> None:
    # Two instances of one bot: only the one holding the listener lease reads the spaces.
    first = bot_env_factory("websocket", reconcile_interval_seconds=0)
    listener = first.bot.websocket
    assert listener is not None
    wait_until(lambda: listener.holds_lease, timeout=15, what="the first's lease")
    second = bot_env_factory("websocket", reconcile_interval_seconds=0)
    assert second.bot.healer is not None and second.bot.websocket is not None
    assert not second.bot.websocket.holds_lease
    assert second.bot.healer.run_once(force=True).reconciled is None  # no round at all
    assert first.bot.healer is not None
    assert first.bot.healer.run_once(force=True).reconciled is not None
