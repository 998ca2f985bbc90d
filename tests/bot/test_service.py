"""From message to reply on a fake Webex: recognition, access, threads, errors, loop safety."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable

import pytest

from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import OWNER_ID
from tests.plugins.bot import FakeClient
from tokenbot.bot.message import Message
from tokenbot.bot.service import Bot
from tokenbot.core.errors import NeedsReauth

ROOM = "ROOM-TEAM"
_ids = itertools.count(1)


def message(
    text: str,
    *,
    sender: str = "bob@example.com",
    room: str = ROOM,
    room_type: str = "group",
    parent_id: str | None = None,
    html: str | None = None,
) -> Message:
    """Build a message as `sender` (the owner when sender is the owner's email)."""
    person = OWNER_ID if sender == OWNER_EMAIL else f"PERSON-{sender.split('@')[0].upper()}"
    return Message(
        id=f"MSG-{next(_ids)}",
        room_id=room,
        person_id=person,
        person_email=sender,
        room_type=room_type,
        text=text,
        html=html,
        parent_id=parent_id,
    )


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    return make_bot()


def run(bot: Bot, client: FakeClient, msg: Message) -> str:
    return bot.process(client.add(msg), "test")


def test_a_command_is_answered_in_a_new_thread_under_it(bot: Bot, fake_client: FakeClient) -> None:
    msg = message("/ping")
    assert run(bot, fake_client, msg) == "ok"
    (reply,) = fake_client.posted
    assert (reply.room_id, reply.parent_id, reply.markdown) == (ROOM, msg.id, "pong")


def test_a_command_inside_a_thread_is_answered_in_that_thread(
    bot: Bot, fake_client: FakeClient
) -> None:
    run(bot, fake_client, message("/ping", parent_id="THREAD-ROOT"))
    assert fake_client.posted[0].parent_id == "THREAD-ROOT"


def test_the_owner_needs_the_prefix_others_may_mention(bot: Bot, fake_client: FakeClient) -> None:
    assert run(bot, fake_client, message("ping", sender=OWNER_EMAIL)) == "ignored"
    assert run(bot, fake_client, message("Alice ping", sender=OWNER_EMAIL)) == "ignored"
    assert run(bot, fake_client, message("hello there")) == "ignored"
    html = f'<p><spark-mention data-object-id="{OWNER_ID}">Alice</spark-mention> ping</p>'
    assert run(bot, fake_client, message("Alice ping", html=html)) == "ok"
    # A mention followed by chatter is not a command and gets no "unknown command" noise.
    assert run(bot, fake_client, message("Alice can you look?", html=html)) == "ignored"
    assert run(bot, fake_client, message("/ping", sender=OWNER_EMAIL)) == "ok"
    assert [m.markdown for m in fake_client.posted] == ["pong", "pong"]


def test_unknown_command_gets_a_short_hint(bot: Bot, fake_client: FakeClient) -> None:
    assert run(bot, fake_client, message("/pnig")) == "unknown"
    assert fake_client.posted[0].markdown == (
        "Unknown command `/pnig`. Did you mean `/ping`? Try `/help`."
    )


def test_access_control_refuses_and_allows(bot: Bot, fake_client: FakeClient) -> None:
    assert run(bot, fake_client, message("/echo hi", sender="dave@example.com")) == "denied"
    assert run(bot, fake_client, message("/echo hi", sender="bob@example.com")) == "ok"
    refusal, answer = (m.markdown for m in fake_client.posted)
    assert refusal is not None and "not allowed" in refusal
    assert answer == "hi"
    assert bot.metrics.commands.labels(command="echo", outcome="denied")._value.get() == 1


def test_bad_arguments_get_the_usage(bot: Bot, fake_client: FakeClient) -> None:
    assert run(bot, fake_client, message("/remind soon do it")) == "bad_arguments"
    text = fake_client.posted[0].markdown or ""
    assert "not a duration" in text and "`/remind <delay> <text...>`" in text


def test_help_is_generated_from_the_commands(bot: Bot, fake_client: FakeClient) -> None:
    run(bot, fake_client, message("/help"))
    text = fake_client.posted[0].markdown or ""
    for line in ("`/ping`: Answer pong", "`/remind <delay> <text...>`", "`/history [count]`"):
        assert line in text
    run(bot, fake_client, message("/help remind"))
    assert "- `delay`: when: 90s, 10m" in (fake_client.posted[1].markdown or "")


def test_one_error_handler_replies_with_an_id_and_keeps_running(
    bot: Bot, fake_client: FakeClient
) -> None:
    def broken(ctx: object) -> str:
        """Fail."""
        raise RuntimeError("kaboom secret-looking detail")

    bot.router.command("broken")(broken)
    assert run(bot, fake_client, message("/broken")) == "error"
    reply = fake_client.posted[0].markdown or ""
    error_id = reply.split("error id `")[1].split("`")[0]
    assert len(error_id) == 8
    bot.flush(force=True)
    snapshot = bot.state.snapshot()
    assert snapshot.get("last_error_id") == error_id
    assert "kaboom" not in snapshot.get("last_error")  # the id, not the exception text
    assert run(bot, fake_client, message("/ping")) == "ok"


def test_a_long_reply_is_split_in_order_into_the_same_thread(
    bot: Bot, fake_client: FakeClient
) -> None:
    lines = [f"{i:04d} " + "x" * 95 for i in range(100)]  # 10 kB

    def long(ctx: object) -> str:
        """Answer at length."""
        return "\n".join(lines)

    bot.router.command("long")(long)
    msg = message("/long")
    run(bot, fake_client, msg)
    parts = fake_client.posted
    assert len(parts) == 2
    assert all(part.parent_id == msg.id for part in parts)
    assert "\n".join(part.markdown or "" for part in parts).splitlines() == lines


def test_own_posts_never_trigger_the_bot_even_when_they_come_back_early(
    bot: Bot, fake_client: FakeClient
) -> None:
    """The bot alone in a space with itself: `/echo /echo hi` must not loop."""
    outcomes: list[str] = []
    # Webex may deliver our own post before the post call returns: process it right then.
    fake_client.on_post = lambda posted: outcomes.append(bot.process(posted, "test"))
    first = message("/echo /echo hi", sender=OWNER_EMAIL, room="ROOM-SELF", room_type="direct")
    assert run(bot, fake_client, first) == "ok"
    assert outcomes == ["own_post"]
    (reply,) = fake_client.replies_to("ROOM-SELF")
    assert reply.markdown == "/echo hi"
    # And later (polling, a restart, a webhook retry): still known as ours, by id.
    fake_client.on_post = None
    assert bot.process(reply, "test") == "own_post"
    assert len(fake_client.replies_to("ROOM-SELF")) == 1


def test_a_revoked_grant_is_recorded_and_nothing_crashes(bot: Bot, fake_client: FakeClient) -> None:
    msg = fake_client.add(message("/ping"))
    fake_client.fail_with = NeedsReauth("grant revoked")
    assert bot.process_id(msg.id, "webhook", 0.0) == "needs_reauth"
    assert "needs re-login" in bot.state.snapshot().get("last_error")
    fake_client.fail_with = None
    assert bot.process_id(msg.id, "webhook", 0.0) == "ok"


def test_remind_posts_into_the_thread_when_due(
    make_bot: Callable[..., Bot], fake_client: FakeClient
) -> None:
    from tests.plugins.tokens import wait_until

    bot = make_bot(start=True)
    msg = message("/remind 1s stretch your legs")
    assert run(bot, fake_client, msg) == "ok"
    assert fake_client.posted[0].markdown == "OK, I will remind you in 1 s."
    reminder = wait_until(lambda: fake_client.posted[1:], timeout=10, what="the reminder")[0]
    assert reminder.parent_id == msg.id
    assert reminder.markdown == "⏰ Reminder for `bob@example.com`: `stretch your legs`"


def test_help_and_behaviour_agree_a_1to1_space_needs_the_prefix_too(
    bot: Bot, fake_client: FakeClient
) -> None:
    run(bot, fake_client, message("/help", room_type="direct"))
    text = fake_client.posted[0].markdown or ""
    assert "Start every command with `/`, in 1:1 spaces too" in text
    # What /help says is what happens: plain "ping" in a 1:1 space is conversation...
    run(bot, fake_client, message("ping", room_type="direct"))
    assert len(fake_client.posted) == 1
    # ...and "/ping" is a command.
    run(bot, fake_client, message("/ping", room_type="direct"))
    assert fake_client.posted[1].markdown == "pong"


def test_a_command_without_a_file_makes_no_folder_for_one(
    bot: Bot, fake_client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Creating and removing a folder was ~1 ms of disk work on every command's path.
    monkeypatch.setattr(tempfile, "mkdtemp", _no_folder)
    assert run(bot, fake_client, message("/ping")) == "ok"
    assert fake_client.posted[0].markdown == "pong"


def _no_folder(*args: object, **kwargs: object) -> str:
    raise AssertionError("a folder was made for a command that received no file")
