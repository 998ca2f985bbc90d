"""Our webhook goes with its owner, and an inactive one is not "registered" (issue 11, 7).

Real SDK, real WSGI server, the emulator as Webex; what Webex holds is read back through the
emulator's control API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.plugins.bot import BOT_SCOPES
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import connect_minted
from tests.plugins.tokens import wait_until
from tokenbot.core.clock import SystemClock
from tokenbot.process import bot_status_reader

DEAD_TARGET = "http://127.0.0.1:9/webhooks/webex"  # the discard port: nothing listens


def _hooks(env: BotEnv, email: str, resource: str | None = "messages") -> list[dict[str, Any]]:
    # Ours are two per owner: `messages`, and `attachmentActions` (card submits); None: both.
    return [
        hook
        for hook in env.emulator.control("GET", "webhooks")["items"]
        if hook["ownerEmail"] == email
        and hook["targetUrl"] == env.webhook_url
        and resource in (None, hook["resource"])
    ]


def test_a_new_bot_identity_removes_the_former_ones_webhook(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    assert [h["status"] for h in _hooks(env, "alice@example.com")] == ["active"]
    assert [h["status"] for h in _hooks(env, "alice@example.com", "attachmentActions")] == [
        "active"
    ]
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
    wait_until(
        lambda: (
            len(_hooks(env, "bob@example.com", None)) == 2
            and not _hooks(env, "alice@example.com", None)
        ),
        timeout=15,
        what="the webhook to move from alice to bob",
    )


def test_a_webhook_webex_disabled_is_not_shown_registered(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    from tokenbot.bot.registration import check_webhook  # new with this check

    env = bot_env_factory("webhook")
    assert env.bot.upkeep is not None
    env.bot.upkeep.stop()  # it would register the webhook again at once
    card = bot_status_reader(env.bot.state)
    assert card()["webhook_registered"] is True
    (hook,) = _hooks(env, "alice@example.com")
    # What Webex does after too many failed deliveries: a target that fails, a low threshold.
    env.emulator.settings(webhook_disable_threshold=1, webhook_retries=0)
    env.bot.client.call(
        lambda api: api.webhooks.update(hook["id"], name=hook["name"], targetUrl=DEAD_TARGET)
    )
    env.say(env.room("Team Space"), "bob@example.com", "hello")
    wait_until(
        lambda: any(
            h["id"] == hook["id"] and h["status"] == "inactive"
            for h in env.emulator.control("GET", "webhooks")["items"]
        ),
        timeout=15,
        what="Webex to disable the webhook",
    )
    assert check_webhook(env.bot.client, env.bot.state, on_error=env.bot.record_error) == "inactive"
    facts = card()
    assert facts["webhook_registered"] is False
    assert facts["webhook_status"] == "inactive"
    assert "inactive" in str(facts["last_error"])
