"""Cards and files end to end: emulator -> signed webhooks -> bot -> real SDK -> emulator.

Card submits reach the bot only by its `attachmentActions` webhook (Webex has no list of them);
received files are fetched from `/v1/contents` with HEAD first and through the scan ladder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable

import pytest
import requests

from tests.bot.cards import card_buttons
from tests.bot.cards import delivered
from tests.bot.cards import posts
from tests.bot.cards import press
from tests.plugins.bot import SECRET
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until


@pytest.fixture
def env(bot_env_factory: Callable[..., BotEnv]) -> BotEnv:
    return bot_env_factory("webhook")


def _wait_outcome(env: BotEnv, outcome: str, count: float = 1.0) -> None:
    wait_until(
        lambda: delivered(env, f"card_{outcome}", "webhook") >= count,
        timeout=15,
        what=f"card {outcome}",
    )


def test_help_card_has_exactly_the_senders_commands_and_a_button_runs_one(env: BotEnv) -> None:
    room = env.room("Project X")
    # dave is outside the policy: he may run only the `everyone` commands.
    asked = env.say(room, "dave@example.com", "/help")
    (card,) = env.wait_replies(room, asked)
    buttons = card_buttons(card)
    assert [b["title"] for b in buttons] == ["/help", "/ping", "/whoami"]
    assert "**Commands**" in card["markdown"]  # the text fallback, always
    ping = next(b for b in buttons if b["title"] == "/ping")
    # Our card comes back by webhook and is dropped by id, unfetched (loop safety); let that
    # pass first.
    wait_until(
        lambda: env.bot.metrics.registry.get_sample_value(
            "tokenbot_bot_deliveries_total", {"intake": "webhook", "outcome": "own_post"}
        ),
        timeout=15,
        what="own card screened",
    )
    env.emulator.control("DELETE", "calls")
    press(env, card["id"], "dave@example.com", ping["data"])
    replies = env.wait_replies(room, asked, count=2)
    assert replies[1]["markdown"] == "pong"  # in the same thread as /help and its card
    # Webex calls for that submit: GET the action, the card message, the person; POST the answer.
    # (Our reply comes back by webhook too: were it fetched, that would not be the submit's.)
    pong_path = f"/v1/messages/{replies[1]['id']}"
    calls = [
        (c["method"], c["path"].split("/")[2])
        for c in env.emulator.calls()
        if c["path"] != pong_path
    ]
    assert calls == [
        ("GET", "attachment"),
        ("GET", "messages"),
        ("GET", "people"),
        ("POST", "messages"),
    ]
    # `/help text` stays text.
    text = env.say(room, "dave@example.com", "/help text")
    (plain,) = env.wait_replies(room, text)
    assert "attachments" not in plain and "/ping" in plain["markdown"]


def test_more_than_five_commands_go_into_a_picker(env: BotEnv) -> None:
    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/help")  # bob is in the policy: every command
    (card,) = env.wait_replies(room, asked)
    buttons = card_buttons(card)
    assert len(buttons) == 5 and buttons[-1]["title"] == "Run selected"
    picker = next(
        item
        for item in card["attachments"][0]["content"]["body"]
        if item.get("type") == "Input.ChoiceSet"
    )
    assert "whoami" in [choice["value"] for choice in picker["choices"]]
    press(env, card["id"], "bob@example.com", {**buttons[-1]["data"], "command": "whoami"})
    assert "You are `bob@example.com`" in env.wait_replies(room, asked, count=2)[1]["markdown"]


def test_submits_that_must_do_nothing(env: BotEnv) -> None:
    room = env.room("Project X")
    # 1. A card the bot did not post (bob's own card in the same space).
    card = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.3", "body": [], "actions": []},
    }
    foreign = env.emulator.control(
        "POST",
        "messages",
        {"roomId": room, "personEmail": "bob@example.com", "text": "x", "attachments": [card]},
    )
    wait_until(
        lambda: env.bot.metrics.registry.get_sample_value(
            "tokenbot_bot_deliveries_total", {"intake": "webhook", "outcome": "ignored"}
        ),
        timeout=15,
        what="bob's card message handled",
    )
    env.emulator.control("DELETE", "calls")
    press(env, foreign["id"], "dave@example.com", {"tb_callback": "help.run", "command": "ping"})
    _wait_outcome(env, "not_our_card")
    # The envelope's messageId settles it: not even the submit is fetched.
    assert [c for c in env.emulator.calls() if c["path"].startswith("/v1/")] == []
    # 2. A person the command's policy refuses: dave on bob's status card.
    asked = env.say(room, "bob@example.com", "/status")
    (status,) = env.wait_replies(room, asked)
    (refresh,) = card_buttons(status)
    assert refresh["title"] == "Refresh now"
    before = posts(env)
    press(env, status["id"], "dave@example.com", refresh["data"])
    _wait_outcome(env, "denied")
    assert posts(env) == before
    # 3. A replayed delivery of an accepted submit.
    pressed = press(env, status["id"], "bob@example.com", refresh["data"])
    replies = env.wait_replies(room, asked, count=2)
    assert replies[1]["markdown"].startswith("Refresh: `refreshed`")
    assert len(env.emulator.calls("/v1/access_token")) >= 1  # through the store, for real
    body = json.dumps(
        {
            "id": env.bot.registered_card_webhook_id(),
            "resource": "attachmentActions",
            "event": "created",
            # The envelope as Webex sent it (a replay without `created` is refused as stale).
            "data": {
                "id": pressed["id"],
                "messageId": status["id"],
                "personId": pressed["personId"],
                "roomId": room,
                "created": pressed["created"],
            },
        }
    ).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    before = posts(env)
    answer = requests.post(
        str(env.webhook_url),
        data=body,
        headers={"Content-Type": "application/json", "X-Spark-Signature": signature},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json() == {"status": "duplicate"}
    assert posts(env) == before
    # 4. Refresh now is not a refresh loop: a second press within a minute refreshes nothing.
    refreshes = len(env.emulator.calls("/v1/access_token"))
    press(env, status["id"], "bob@example.com", refresh["data"])
    third = env.wait_replies(room, asked, count=3)[2]
    assert "try again in" in third["markdown"]
    assert len(env.emulator.calls("/v1/access_token")) == refreshes


def _send_file(env: BotEnv, room: str, email: str, text: str, name: str, data: bytes) -> str:
    file = {"name": name, "contentType": "application/octet-stream"}
    file["base64"] = base64.b64encode(data).decode()
    body = {"roomId": room, "personEmail": email, "text": text, "file": file}
    return str(env.emulator.control("POST", "messages", body)["id"])


def _download(env: BotEnv, url: str) -> requests.Response:
    content_id = url.rsplit("/", 1)[1]
    return requests.get(f"{env.emulator.url}/_emulator/contents/{content_id}", timeout=10)


def test_echo_returns_the_same_3mb_file(env: BotEnv) -> None:
    room = env.room("Team Space")
    data = os.urandom(3 * 1024 * 1024)
    asked = _send_file(env, room, "bob@example.com", "/echo", "photo.raw", data)
    (reply,) = env.wait_replies(room, asked, timeout=30)
    (url,) = reply["files"]
    got = _download(env, url)
    assert got.content == data
    assert got.headers["Content-Disposition"] == 'attachment; filename="photo.raw"'
    # Per received file: one HEAD and one GET of /v1/contents.
    contents = [c for c in env.emulator.calls() if c["path"].startswith("/v1/contents/")]
    assert [c["method"] for c in contents] == ["HEAD", "GET"]


def test_a_file_over_the_cap_is_refused_without_download(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook", file_max_bytes=1024)
    room = env.room("Team Space")
    asked = _send_file(env, room, "bob@example.com", "/echo", "big.bin", b"x" * 2048)
    (reply,) = env.wait_replies(room, asked)
    assert "I did not take your file" in reply["markdown"]
    assert "2048 bytes" in reply["markdown"] and "1024" in reply["markdown"]
    contents = [c for c in env.emulator.calls() if c["path"].startswith("/v1/contents/")]
    assert [c["method"] for c in contents] == ["HEAD"]


def test_example_plugin_card_callback_escapes_inputs_and_sends_a_file(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook", plugins=("tokenbot.bot.plugins.example",))
    room = env.room("Project X")
    asked = env.say(room, "dave@example.com", "/greet")
    (card,) = env.wait_replies(room, asked)
    (button,) = card_buttons(card)
    hostile = "<@all> **bold** [x](http://evil.example)"
    press(env, card["id"], "dave@example.com", {**button["data"], "name": hostile})
    answer = env.wait_replies(room, asked, count=2)[1]
    assert "mentionedGroups" not in answer and "<@all>" not in answer["markdown"]
    # The input shows as the text it is: no bold, no link, whatever markdown it holds.
    assert "<strong>" not in answer["html"] and "<a " not in answer["html"]
    assert "<code>" in answer["html"]
    asked = env.say(room, "dave@example.com", "/csv")
    (reply,) = env.wait_replies(room, asked)
    assert reply["markdown"] == "Here are some squares."
    assert _download(env, reply["files"][0]).content.startswith(b"n,square\n1,1\n")


def test_polling_help_says_buttons_need_webhooks(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("polling")
    room = env.room("Project X")
    wait_until(lambda: env.bot.state.cursors(), timeout=15, what="first polling round")
    asked = env.say(room, "dave@example.com", "/help")
    (card,) = env.wait_replies(room, asked)
    assert "cannot tell a polling bot about card presses" in card["markdown"]
    texts = [b.get("text", "") for b in card["attachments"][0]["content"]["body"]]
    assert any("Buttons need webhook or websocket intake" in text for text in texts)


def test_others_card_presses_pass_flood_control_before_any_webex_call(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    # One message and one press a sender may spend at once; the press beyond is silence.
    env = bot_env_factory("webhook", sender_burst=2, sender_per_minute=0.1)
    room = env.room("Project X")
    asked = env.say(room, "dave@example.com", "/help")
    (card,) = env.wait_replies(room, asked)
    ping = next(b for b in card_buttons(card) if b["title"] == "/ping")
    press(env, card["id"], "dave@example.com", ping["data"])
    assert env.wait_replies(room, asked, count=2)[1]["markdown"] == "pong"
    # Both own posts (the card and "pong") screened: a post whose webhook outran the record
    # of its id is fetched once to be recognized, and that call must not land below.
    wait_until(
        lambda: (
            (
                env.bot.metrics.registry.get_sample_value(
                    "tokenbot_bot_deliveries_total", {"intake": "webhook", "outcome": "own_post"}
                )
                or 0
            )
            >= 2
        ),
        timeout=15,
        what="both own posts screened",
    )
    env.emulator.control("DELETE", "calls")
    press(env, card["id"], "dave@example.com", ping["data"])
    wait_until(
        lambda: env.bot.metrics.registry.get_sample_value(
            "tokenbot_bot_deliveries_total", {"intake": "webhook", "outcome": "throttled"}
        ),
        timeout=15,
        what="the press throttled",
    )
    # Not even the action was fetched: the envelope alone decided.
    assert [c for c in env.emulator.calls() if c["path"].startswith("/v1/")] == []
