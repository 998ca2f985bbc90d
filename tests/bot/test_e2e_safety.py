"""Others cannot make the user @mention people or reveal the user's spaces (real SDK, emulator)."""

from __future__ import annotations

from collections.abc import Callable

from tests.bot.markdown_view import live_markup
from tests.bot.markdown_view import shown
from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import BotEnv

MENTION = "<@personEmail:carol@example.com|Carol>"


def test_only_the_user_can_make_the_bot_mention_someone(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Team Space")

    asked = env.say(room, "bob@example.com", f"/echo hello {MENTION} and <@all>")
    (reply,) = env.wait_replies(room, asked)
    assert shown(reply["markdown"]) == "hello @Carol and @all"
    assert live_markup(reply["markdown"]) == []
    assert not reply.get("mentionedPeople") and not reply.get("mentionedGroups")

    mine = env.say(room, OWNER_EMAIL, f"/echo hello {MENTION}")
    (own_reply,) = env.wait_replies(room, mine)
    assert own_reply["markdown"] == f"hello {MENTION}"
    assert own_reply.get("mentionedPeople") == [env.emulator.person("carol@example.com")["id"]]


def test_rooms_is_for_the_user_only(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/rooms")
    (refusal,) = env.wait_replies(room, asked)
    assert "not allowed" in refusal["markdown"]
    assert "Project X" not in refusal["markdown"]
    mine = env.say(room, OWNER_EMAIL, "/rooms")
    (listing,) = env.wait_replies(room, mine)
    assert "Project X" in listing["markdown"]


def test_a_reminder_for_someone_else_mentions_nobody(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/remind 1s <<@all>> stand-up")
    (ack, reminder) = env.wait_replies(room, asked, count=2)
    assert "remind you" in ack["markdown"]
    assert "<@" not in reminder["markdown"] and "@all stand-up" in reminder["markdown"]
    assert not reminder.get("mentionedGroups") and not reminder.get("mentionedPeople")
