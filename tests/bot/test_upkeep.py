"""The bot registers its webhook once someone is connected, and again when the identity changes.

At start a fresh install has no bot identity (nobody connected yet); the demo and every new
deployment begin that way. End to end against the emulator with the real SDK.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.plugins.bot import BotEnv
from tests.plugins.bot import FakeIdentityStore
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.service import Bot
from tokenbot.bot.upkeep import Upkeep
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import FrozenClock


def _hooks(env: BotEnv) -> list[tuple[str, str]]:
    return [
        (h["ownerEmail"], h["targetUrl"])
        for h in env.emulator.control("GET", "webhooks")["items"]
        if h["resource"] == "messages"
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


def _remember(state: BotStateStore, message_id: str) -> None:
    """Claim a message and record a post by the same id, as handling one does."""
    assert state.claim_message(message_id, source="webhook")
    state.finish_post(state.begin_post("ROOM", f"fp-{message_id}"), message_id)


def _known(state: BotStateStore, message_id: str) -> bool:
    return state.is_processed(message_id) or state.is_own_post(message_id)


def test_the_upkeep_prunes_old_message_ids_once_a_day(
    bot_state: BotStateStore, frozen_clock: FrozenClock
) -> None:
    now = [1000.0]
    errors: list[str] = []
    upkeep = Upkeep(  # no bot needed: the state, the identity and an error hook
        bot_state,
        IdentityCache(FakeIdentityStore()),
        register_webhook=None,
        on_error=lambda text, error_id=None: errors.append(text),
        monotonic=lambda: now[0],
    )
    _remember(bot_state, "OLD")
    frozen_clock.advance(8 * 86400)  # past the replay window: OLD can no longer arrive
    _remember(bot_state, "RECENT")

    upkeep.run_once()
    assert not _known(bot_state, "OLD")
    assert bot_state.is_processed("RECENT") and bot_state.is_own_post("RECENT")

    # RECENT ages out, but the next pruning is due only a day after the last one.
    frozen_clock.advance(8 * 86400)
    now[0] += 3600
    upkeep.run_once()
    assert _known(bot_state, "RECENT")
    now[0] += 86400
    upkeep.run_once()
    assert not _known(bot_state, "RECENT")
    assert errors == []


def test_a_started_bot_prunes_before_start_returns(
    make_bot: Callable[..., Bot], bot_state: BotStateStore, frozen_clock: FrozenClock
) -> None:
    bot = make_bot()
    _remember(bot_state, "OLD")
    frozen_clock.advance(8 * 86400)
    bot.start()
    assert not _known(bot_state, "OLD")
