"""The bot registers its webhook once someone is connected, and again when the identity changes.

At start a fresh install has no bot identity (nobody connected yet); the demo and every new
deployment begin that way. End to end against the emulator with the real SDK.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.plugins.bot import BotEnv


def _hooks(env: BotEnv) -> list[tuple[str, str]]:
    return [
        (h["ownerEmail"], h["targetUrl"]) for h in env.emulator.control("GET", "webhooks")["items"]
    ]


def test_webhook_registered_after_the_first_connect_and_commands_answered(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    # Back to a fresh install: no webhook at Webex, nobody connected.
    for hook in env.emulator.control("GET", "webhooks")["items"]:
        env.bot.client.delete_webhook(hook["id"])
    env.store.disconnect(env.account_id)
    env.bot.identity.invalidate()
    env.bot.state.set_values({"webhook_registered": False, "webhook_id": None})
    upkeep = env.bot.build_upkeep()

    upkeep.run_once()
    assert _hooks(env) == []
    assert env.bot.state.snapshot().get("webhook_registered") is False

    env.connect_alice()
    upkeep.run_once()
    assert _hooks(env) == [("alice@example.com", env.webhook_url)]
    assert env.bot.state.snapshot().get("webhook_registered") is True

    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/ping")
    (reply,) = env.wait_replies(room, asked)
    assert "pong" in reply["markdown"].lower()

    # Nothing changed: no second registration call.
    before = len(env.emulator.calls("/v1/webhooks"))
    upkeep.run_once()
    assert len(env.emulator.calls("/v1/webhooks")) == before


def test_a_new_bot_identity_gets_its_own_webhook(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("webhook")
    upkeep = env.bot.build_upkeep()
    upkeep.run_once()
    assert _hooks(env) == [("alice@example.com", env.webhook_url)]

    # The admin makes Bob the bot identity: the next round registers a webhook for him.
    from tests.plugins.bot import BOT_SCOPES
    from tests.plugins.tokens import connect_minted
    from tokenbot.core.clock import SystemClock

    bob = connect_minted(
        env.store,
        env.oauth,
        env.emulator,
        env.integration.client_id,
        "bob@example.com",
        BOT_SCOPES,
        sent_at=SystemClock().now(),
    )
    env.store.set_bot_identity(bob.id)
    env.bot.identity.invalidate()
    upkeep.run_once()
    assert ("bob@example.com", env.webhook_url) in _hooks(env)
