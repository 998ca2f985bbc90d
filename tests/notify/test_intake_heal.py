"""Intake that heals itself: a webhook Webex disabled is re-activated, missed commands answered.

Real SDK, real emulator, real webhook endpoint on loopback. The webhook is broken the way it
breaks in production: deliveries keep failing (here: signed with a secret the bot does not
know) until the emulator, like Webex, sets it inactive.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until
from tests.reliability.chat import UNTHROTTLED
from tokenbot.process import bot_status_reader

COMMANDS = 20


def _ours(env: BotEnv) -> dict[str, object]:
    (hook,) = [
        h
        for h in env.emulator.control("GET", "webhooks")["items"]
        if h["name"] == "tokenbot" and h["resource"] == "messages"
    ]
    return dict(hook)


def test_a_disabled_webhook_is_reactivated_and_every_command_answered_once(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    # Flood control off: one sender's 20 commands are the scenario here, not an attack.
    env = bot_env_factory(
        "webhook",
        webhook_check_seconds=3600,
        reconcile_interval_seconds=0,
        **UNTHROTTLED,
    )
    healer = env.bot.healer
    assert healer is not None
    states: list[tuple[str, str]] = []
    healer.on_state = lambda state, reason: states.append((state, reason))
    wait_until(lambda: env.bot.state.value("webhook_id"), timeout=15, what="webhook registered")
    healer.run_once(force=True)  # cursors set before the outage (the first round's job)
    env.emulator.settings(webhook_disable_threshold=5)
    hook = _ours(env)
    # Deliveries now carry a signature the bot cannot check: each one fails.
    env.bot.client.update_webhook(
        str(hook["id"]), name="tokenbot", target_url=str(hook["targetUrl"]), secret="w" * 32
    )
    room = env.room("Team Space")
    asked = [env.say(room, "bob@example.com", f"/echo missed {i}") for i in range(COMMANDS)]
    wait_until(lambda: _ours(env)["status"] == "inactive", timeout=30, what="webhook disabled")
    # Retries of the badly signed deliveries still queued at the emulator would fail again
    # after the heal and, within Webex's probation window, disable the webhook once more.
    delivery = env.emulator.server.state.delivery
    wait_until(delivery.idle, timeout=30, what="the emulator's queued retries to drain")
    assert all(env.replies(room, message_id) == [] for message_id in asked)

    report = healer.run_once(force=True)  # one upkeep interval
    assert report.status == "inactive" and report.reactivated
    assert _ours(env)["status"] == "active"
    assert env.bot.state.value("webhook_reactivated_at")
    assert [s for s, _ in states][-2:] == ["down", "up"]  # the outbox keeps changes only
    facts = bot_status_reader(env.bot.state)()  # what the bot card shows
    assert facts["webhook_status"] == "active" and facts["webhook_reactivated_at"]
    for message_id in asked:
        env.wait_replies(room, message_id)
    healer.run_once(force=True)  # a second reconciliation finds nothing new
    after = env.say(room, "bob@example.com", "/echo after the heal")  # the webhook works again
    env.wait_replies(room, after)
    replies = [
        m
        for m in env.room_messages(room)
        if m.get("personEmail") == OWNER_EMAIL and m.get("parentId") in set(asked)
    ]
    assert len(replies) == COMMANDS  # every command answered exactly once


def test_a_disabled_card_webhook_is_reactivated_too(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook", webhook_check_seconds=3600, reconcile_interval_seconds=0)
    healer = env.bot.healer
    assert healer is not None
    wait_until(
        lambda: env.bot.state.value("card_webhook_id"), timeout=15, what="card webhook registered"
    )
    card_id = str(env.bot.state.value("card_webhook_id"))
    state = env.emulator.server.state
    with state.lock:  # Webex disabled it after failed deliveries
        (hook,) = [h for h in state.webhooks.values() if h.id == card_id]
        hook.status = "inactive"
    report = healer.run_once(force=True)
    assert report.reactivated
    (listed,) = [h for h in env.emulator.control("GET", "webhooks")["items"] if h["id"] == card_id]
    assert listed["status"] == "active"
