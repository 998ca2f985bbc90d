"""End to end over the Webex websocket: the real SDK, the emulator's Mercury socket, no URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until


def _ours(env: BotEnv) -> list[dict[str, Any]]:
    return [
        d
        for d in env.emulator.control("GET", "devices")["items"]
        if d["ownerEmail"] == OWNER_EMAIL and d["name"].startswith("tokenbot-")
    ]


def _connected(env: BotEnv) -> Any:
    return wait_until(
        lambda: (
            env.bot.state.value("websocket_state") == "connected"
            and env.emulator.control("GET", "websockets")["items"]
        ),
        what="the websocket to connect",
    )


def test_help_is_answered_over_the_websocket_with_no_webhook(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("websocket")
    [socket] = _connected(env)
    assert socket["email"] == OWNER_EMAIL and socket["deviceName"] == "tokenbot-default"
    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/help")
    (reply,) = env.wait_replies(room, asked)
    assert "**Commands**" in reply["markdown"]
    assert env.emulator.control("GET", "webhooks")["items"] == []
    assert env.bot.state.snapshot().get("mode") == "websocket"
    assert len(_ours(env)) == 1
