"""End to end over real HTTP: emulator -> signed webhook -> bot -> real SDK -> emulator.

Nothing is mocked: a sandbox person posts through the emulator's control API, the emulator
delivers a signed webhook to the bot's endpoint on a loopback port, the bot fetches the message
and answers with the SDK, and the test reads the answer back from the emulator.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import pytest
import requests

from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import SECRET
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until


@pytest.fixture
def env(bot_env_factory: Callable[..., BotEnv]) -> BotEnv:
    return bot_env_factory("webhook")


def test_help_posted_by_a_person_is_answered_in_that_space(env: BotEnv) -> None:
    hooks = env.emulator.control("GET", "webhooks")["items"]
    # Messages, and card submits beside them (Webex has no list of submits to poll).
    assert sorted((h["resource"], h["targetUrl"], h["name"]) for h in hooks) == [
        ("attachmentActions", env.webhook_url, "tokenbot"),
        ("messages", env.webhook_url, "tokenbot"),
    ]
    assert env.bot.state.snapshot().get("webhook_registered") is True
    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/help")
    (reply,) = env.wait_replies(room, asked)
    assert "**Commands**" in reply["markdown"] and "/ping" in reply["markdown"]


def test_a_restart_keeps_our_webhook_and_removes_stale_ones(env: BotEnv) -> None:
    hooks = env.emulator.control("GET", "webhooks")["items"]
    (ours,) = [hook for hook in hooks if hook["resource"] == "messages"]
    env.bot.client.create_webhook(
        name="tokenbot", target_url="http://127.0.0.1:9/old", secret="x" * 32
    )
    env.bot.client.create_webhook(
        name="someone else's", target_url="http://127.0.0.1:9/x", secret="y" * 32
    )
    assert env.bot.register_webhook() == ours["id"]
    hooks = env.emulator.control("GET", "webhooks")["items"]
    assert sorted((h["name"], h["targetUrl"]) for h in hooks) == [
        ("someone else's", "http://127.0.0.1:9/x"),
        ("tokenbot", env.webhook_url),
        ("tokenbot", env.webhook_url),
    ]


def _post(env: BotEnv, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Spark-Signature"] = signature
    assert env.webhook_url is not None
    return requests.post(env.webhook_url, data=body, headers=headers, timeout=10)


def _sign(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()


def test_bad_deliveries_get_the_right_status_and_no_reply(env: BotEnv) -> None:
    room = env.room("Project X")
    # A real message, answered once through the emulator's own delivery...
    message_id = env.say(room, "dave@example.com", "/ping")
    env.wait_replies(room, message_id)
    before = len(env.room_messages(room))
    # ... then delivered again by hand, in broken ways and once more intact.
    good = json.dumps(
        {
            "id": env.bot.registered_webhook_id(),
            "resource": "messages",
            "event": "created",
            "data": {"id": message_id, "roomId": room},
        }
    ).encode()
    assert _post(env, good, None).status_code == 401
    assert _post(env, good, _sign(good + b" ")).status_code == 401
    big = b"{" + b" " * (300 * 1024) + b"}"
    assert _post(env, big, _sign(big)).status_code == 413
    assert _post(env, b"{nope", _sign(b"{nope")).status_code == 400
    # The emulator already delivered this message once: a replay acts not again.
    assert _post(env, good, _sign(good)).status_code == 200
    assert env.bot.pool.wait_idle(10)
    after = env.room_messages(room)
    replies = [m for m in after if m.get("personEmail") == OWNER_EMAIL]
    assert len(after) == before and len(replies) == 1  # still only the one real answer


def test_bad_deliveries_of_a_new_message_process_nothing(env: BotEnv) -> None:
    """The same checks on a message no delivery has claimed yet: only the intact one acts."""
    room = env.room("Project X")
    hook_id = env.bot.registered_webhook_id()
    # Webex stops delivering (our webhook is gone), so this message reaches us only by hand.
    env.bot.client.delete_webhook(str(hook_id))
    fresh = env.say(room, "bob@example.com", "/ping")
    created = next(m["created"] for m in env.room_messages(room) if m["id"] == fresh)
    body = json.dumps(
        {
            "id": hook_id,
            "resource": "messages",
            "event": "created",
            "data": {"id": fresh, "roomId": room, "created": created},
        }
    ).encode()
    assert _post(env, body, None).status_code == 401
    assert _post(env, body, _sign(body + b" ")).status_code == 401
    assert _post(env, body, _sign(body)[:-1]).status_code == 401
    assert _post(env, body, _sign(body).upper()).status_code == 401
    assert env.bot.pool.wait_idle(10)
    assert env.replies(room, fresh) == []
    assert not env.bot.state.is_processed(fresh)
    assert _post(env, body, _sign(body)).status_code == 202
    (reply,) = env.wait_replies(room, fresh)
    assert reply["markdown"] == "pong"


def test_access_control_refuses_dave_and_answers_bob(env: BotEnv) -> None:
    room = env.room("Project X")
    refused = env.say(room, "dave@example.com", "/echo secret stuff")
    allowed = env.say(room, "bob@example.com", "/echo hello bob")
    (refusal,) = env.wait_replies(room, refused)
    (answer,) = env.wait_replies(room, allowed)
    assert "not allowed" in refusal["markdown"]
    assert answer["markdown"] == "hello bob"


def test_a_command_in_a_thread_is_answered_there_and_10kb_arrive_split_in_order(
    env: BotEnv,
) -> None:
    room = env.room("Team Space")
    root = env.say(room, "carol@example.com", "a topic")
    text = "\n".join(f"{i:04d} " + "y" * 95 for i in range(100))  # 10 kB

    def long(ctx: object) -> str:
        """Answer at length."""
        return text

    env.bot.router.command("long")(long)
    asked = env.say(room, "bob@example.com", "/long", parent_id=root)
    parts = env.wait_replies(room, root, count=2)
    assert len(parts) == 2
    assert "\n".join(part["markdown"] for part in parts) == text
    assert all(len(part["markdown"].encode()) <= 7439 for part in parts)
    assert asked not in [p["id"] for p in parts]


def test_the_bot_alone_with_itself_does_not_loop(env: BotEnv) -> None:
    room = env.bot.client.call(lambda api: api.rooms.create(title="Alice alone").id)
    asked = env.say(room, OWNER_EMAIL, "/echo /echo /echo hi")
    (reply,) = env.wait_replies(room, asked)
    assert reply["markdown"] == "/echo /echo hi"
    # Our reply came back as a delivery and was recognised as our own post.
    metric = env.bot.metrics.deliveries.labels(intake="webhook", outcome="own_post")
    wait_until(lambda: metric._value.get() >= 1, what="our own post to be dropped")
    assert env.bot.pool.wait_idle(10)
    assert len(env.room_messages(room)) == 2
