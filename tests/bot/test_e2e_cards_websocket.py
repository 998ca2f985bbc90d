"""Card presses over the Webex websocket: emulator `cardAction` -> bot -> real SDK -> emulator.

No webhook: the press reaches the bot as a Mercury `cardAction` activity on a real websocket
on loopback. It passes the webhook's checks (`Bot.take_card_action`: our card, the screen,
one claim across intakes) before the dispatcher fetches the submit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from tests.bot.cards import card_buttons
from tests.bot.cards import delivered
from tests.bot.cards import posts
from tests.bot.cards import press
from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import SECRET
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until
from tokenbot.emulator import SEED_CLIENT_ID


@pytest.fixture
def env(bot_env_factory: Callable[..., BotEnv]) -> BotEnv:
    return _websocket(bot_env_factory)


def _websocket(bot_env_factory: Callable[..., BotEnv], **overrides: Any) -> BotEnv:
    env = bot_env_factory("websocket", **overrides)
    wait_until(
        lambda: (
            env.bot.state.value("websocket_state") == "connected"
            and env.emulator.control("GET", "websockets")["items"]
        ),
        what="the websocket to connect",
    )
    return env


def _wait(env: BotEnv, outcome: str, count: float = 1.0, intake: str = "websocket") -> None:
    wait_until(
        lambda: delivered(env, outcome, intake) >= count,
        timeout=15,
        what=f"{intake} outcome {outcome} x{count}",
    )


def _rest_calls(env: BotEnv, *, skip: str = "") -> list[tuple[str, str]]:
    return [
        (c["method"], c["path"].split("/")[2])
        for c in env.emulator.calls()
        if c["path"].startswith("/v1/") and c["path"] != skip
    ]


def _help_card(env: BotEnv, room: str, email: str) -> tuple[str, dict[str, Any]]:
    """Ask for /help; return the question's id and the card, once our own posts settled."""
    asked = env.say(room, email, "/help")
    (card,) = env.wait_replies(room, asked)
    _wait(env, "own_post")  # our card's activity, dropped by id without a fetch
    return asked, card


def test_help_card_button_runs_the_command_in_the_thread(env: BotEnv) -> None:
    room = env.room("Project X")
    # dave is outside the policy: he may run only the `everyone` commands.
    asked, card = _help_card(env, room, "dave@example.com")
    buttons = card_buttons(card)
    assert [b["title"] for b in buttons] == ["/help", "/ping", "/whoami"]
    assert "polling" not in card["markdown"]  # no "buttons need webhook or websocket" footer
    ping = next(b for b in buttons if b["title"] == "/ping")
    env.emulator.control("DELETE", "calls")
    press(env, card["id"], "dave@example.com", ping["data"])
    replies = env.wait_replies(room, asked, count=2)
    assert replies[1]["markdown"] == "pong"  # in the same thread as /help and its card
    _wait(env, "card_ok")
    # Webex calls for that submit: GET the action, the card message, the person; POST the answer
    # (the socket named the submit's id: no lookup). Our answer's own activity costs nothing.
    assert _rest_calls(env, skip=f"/v1/messages/{replies[1]['id']}") == [
        ("GET", "attachment"),
        ("GET", "messages"),
        ("GET", "people"),
        ("POST", "messages"),
    ]


def test_presses_that_must_do_nothing(env: BotEnv) -> None:
    room = env.room("Project X")
    # 1. A card the bot did not post (bob's own card in the same space): settled from the
    #    activity alone, no Webex call.
    card = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.3", "body": [], "actions": []},
    }
    foreign = env.emulator.control(
        "POST",
        "messages",
        {"roomId": room, "personEmail": "bob@example.com", "text": "x", "attachments": [card]},
    )
    _wait(env, "ignored")  # bob's card message: no command, fetched once
    env.emulator.control("DELETE", "calls")
    press(env, foreign["id"], "dave@example.com", {"tb_callback": "help.run", "command": "ping"})
    _wait(env, "card_not_our_card")
    assert _rest_calls(env) == []
    # 2. A person the command's policy refuses: dave on bob's status card.
    asked = env.say(room, "bob@example.com", "/status")
    (status,) = env.wait_replies(room, asked)
    (refresh,) = card_buttons(status)
    before = posts(env)
    press(env, status["id"], "dave@example.com", refresh["data"])
    _wait(env, "card_denied")
    assert posts(env) == before
    # 3. A press Mercury delivers twice: answered once.
    press(env, status["id"], "bob@example.com", refresh["data"])
    replies = env.wait_replies(room, asked, count=2)
    assert replies[1]["markdown"].startswith("Refresh: `refreshed`")
    duplicates = delivered(env, "duplicate", "websocket")
    before = posts(env)
    replayed = {"email": OWNER_EMAIL, "verb": "cardAction"}
    assert env.emulator.control("POST", "websockets/replay", replayed) == {"sent": 1}
    _wait(env, "duplicate", duplicates + 1)
    assert posts(env) == before
    assert len(env.replies(room, asked)) == 2


def test_flood_limited_presses_cost_no_webex_call(bot_env_factory: Callable[..., BotEnv]) -> None:
    # One message and one press a sender may spend at once; the press beyond is silence.
    env = _websocket(bot_env_factory, sender_burst=2, sender_per_minute=0.1)
    room = env.room("Project X")
    asked, card = _help_card(env, room, "dave@example.com")
    ping = next(b for b in card_buttons(card) if b["title"] == "/ping")
    press(env, card["id"], "dave@example.com", ping["data"])
    assert env.wait_replies(room, asked, count=2)[1]["markdown"] == "pong"
    _wait(env, "own_post", 2)  # the card and "pong", both settled by id
    env.emulator.control("DELETE", "calls")
    press(env, card["id"], "dave@example.com", ping["data"])
    _wait(env, "throttled")
    assert _rest_calls(env) == []  # not even the submit was fetched


@contextmanager
def _webhook_server(env: BotEnv) -> Iterator[str]:
    """Serve the bot's webhook endpoint on loopback too; yield its URL."""
    from werkzeug.serving import make_server

    from tokenbot.bot.webhook import create_webhook_app

    server = make_server("127.0.0.1", 0, create_webhook_app(env.bot), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{env.bot.options.webhook_path}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def test_a_press_heard_by_webhook_and_websocket_is_answered_once(env: BotEnv) -> None:
    room = env.room("Project X")
    asked, card = _help_card(env, room, "dave@example.com")
    ping = next(b for b in card_buttons(card) if b["title"] == "/ping")
    with _webhook_server(env) as url:
        # alice also has an attachmentActions webhook on this bot: each press arrives twice,
        # as a signed webhook delivery and as a cardAction, racing.
        token = env.emulator.mint_token(SEED_CLIENT_ID, OWNER_EMAIL, ["spark:all"])
        hook = {
            "name": "cards too",
            "targetUrl": url,
            "resource": "attachmentActions",
            "event": "created",
            "secret": SECRET,
        }
        requests.post(
            f"{env.emulator.api_url}webhooks",
            json=hook,
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        ).raise_for_status()
        before = posts(env)
        press(env, card["id"], "dave@example.com", ping["data"])
        assert env.wait_replies(room, asked, count=2)[1]["markdown"] == "pong"
        # Both arrivals handled: one intake ran it, the other found it claimed.
        wait_until(
            lambda: (
                (delivered(env, "duplicate", "webhook") and delivered(env, "card_ok", "websocket"))
                or (
                    delivered(env, "duplicate", "websocket")
                    and delivered(env, "card_ok", "webhook")
                )
            ),
            timeout=15,
            what="the press by both intakes",
        )
    assert posts(env) == before + 1
    assert len(env.replies(room, asked)) == 2
