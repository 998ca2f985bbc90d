"""Nobody can make the user's account post a live link, image or mention (issue 11, 1 and 4).

Real SDK, real WSGI server, the emulator as Webex. Every reply is read back from the emulator
and parsed with a real CommonMark parser (with bare-URL linking, as Webex clients do): what a
reader would see as a link, an image or a mention must not be there.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from tests.bot.markdown_view import live_markup
from tests.bot.markdown_view import shown
from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import BotEnv

NBSP = "\u00a0"
# The hostile pass's input: the backtick closes the reply's code span, the rest is a link.
PHISH = f"/x`[Your{NBSP}session{NBSP}expired](https://evil.test/login)`"
TRACKER = "![x](https://evil.test/t.png)"
STRANGER = "dave@example.com"  # in no allow-list


def _idle(env: BotEnv) -> None:
    assert env.bot.pool.wait_idle(10)


def test_a_strangers_unknown_command_gets_one_short_hint_without_their_words(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Project X")
    first = env.say(room, STRANGER, PHISH)
    (hint,) = env.wait_replies(room, first)
    assert live_markup(hint["markdown"]) == []
    assert "evil.test" not in hint["markdown"] and "session" not in hint["markdown"]
    # Later unknown commands of someone who may run nothing restricted: silence.
    again = env.say(room, STRANGER, f"/y {TRACKER}")
    known = env.say(room, STRANGER, "/ping")
    env.wait_replies(room, known)
    _idle(env)
    assert env.replies(room, again) == []


def test_argument_errors_of_everyone_commands_quote_the_input_as_text(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Project X")
    asked = [
        env.say(
            room, STRANGER, f"/ping `[Your{NBSP}session{NBSP}expired](https://evil.test/login)`"
        ),
        env.say(room, STRANGER, f"/whoami {TRACKER}"),
        env.say(room, STRANGER, f"/help x ``{TRACKER}`` <@all>"),
    ]
    for message_id in asked:
        (reply,) = env.wait_replies(room, message_id)
        assert "unexpected" in reply["markdown"]
        assert live_markup(reply["markdown"]) == [], reply["markdown"]
        assert not reply.get("mentionedGroups") and not reply.get("mentionedPeople")
        assert "evil" in shown(reply["markdown"])  # shown as the text it is


def test_an_allowed_senders_unknown_command_is_quoted_but_never_live(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Project X")
    asked = env.say(room, "bob@example.com", PHISH)
    (reply,) = env.wait_replies(room, asked)
    assert live_markup(reply["markdown"]) == [], reply["markdown"]
    assert "Unknown command" in reply["markdown"]
    assert "https://evil.test/login" in shown(reply["markdown"])


def test_a_plugin_style_plain_reply_and_echo_show_as_text(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Project X")
    text = f"[Your session expired](https://evil.test/login) {TRACKER} https://evil.test/x"
    asked = env.say(room, "bob@example.com", f"/echo {text}")
    (reply,) = env.wait_replies(room, asked)
    assert live_markup(reply["markdown"]) == [], reply["markdown"]
    assert shown(reply["markdown"]) == text


def test_history_neutralizes_what_others_wrote_even_for_the_user(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Team Space")
    posted = env.say(
        room, "carol@example.com", f"<@all> [click](https://evil.test/login) {TRACKER}"
    )
    assert posted
    asked = env.say(room, OWNER_EMAIL, "/history 3")
    (reply,) = env.wait_replies(room, asked)
    assert live_markup(reply["markdown"]) == [], reply["markdown"]
    assert not reply.get("mentionedGroups") and not reply.get("mentionedPeople")
    assert "evil.test" in shown(reply["markdown"])


def test_rooms_lists_hostile_titles_as_text(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("webhook")
    scopes = ["spark:rooms_write", "spark:memberships_write"]
    client_id, _ = env.emulator.register_integration(["http://127.0.0.1:9/cb"], scopes)
    carol = env.emulator.mint_token(client_id, "carol@example.com", scopes)["access_token"]
    title = f"<@all> [win](https://evil.test/login) {TRACKER}"
    headers = {"Authorization": f"Bearer {carol}"}
    api = env.emulator.api_url
    made = requests.post(f"{api}rooms", json={"title": title}, headers=headers, timeout=10)
    assert made.status_code == 200, made.text
    added = requests.post(
        f"{api}memberships",
        json={"roomId": made.json()["id"], "personEmail": OWNER_EMAIL},
        headers=headers,
        timeout=10,
    )
    assert added.status_code == 200, added.text
    room = env.room("Project X")
    asked = env.say(room, OWNER_EMAIL, "/rooms")
    (reply,) = env.wait_replies(room, asked)
    assert live_markup(reply["markdown"]) == [], reply["markdown"]
    assert not reply.get("mentionedGroups") and not reply.get("mentionedPeople")
    assert "[win](https://evil.test/login)" in shown(reply["markdown"])
