"""The one place replies are escaped: literals, plain text, and cutting long replies."""

from __future__ import annotations

import pytest

from tests.bot.markdown_view import live_markup
from tests.bot.markdown_view import shown
from tokenbot.bot.markup import Markdown
from tokenbot.bot.markup import literal
from tokenbot.bot.markup import reply_parts
from tokenbot.bot.text import MAX_MESSAGE_BYTES

HOSTILE = [
    "`[Your session expired](https://evil.test/login)`",
    "``` ![x](https://evil.test/t.png) ```",
    "a\n\n# [x](https://evil.test)\n> <@all>",
    "`` `` ` <img src=x onerror=alert(1)> `",
    "<https://evil.test> www.evil.test evil@evil.test",
    "\u2028[x](https://evil.test)\u2029",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_literal_inside_our_markup_stays_text(text: str) -> None:
    reply = Markdown("Unknown command {}. Try {}.").format(text, "/help")
    assert live_markup(reply) == []
    assert "Unknown command" in shown(reply) and "Try /help." in shown(reply)


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_text_shows_as_itself(text: str) -> None:
    (part,) = reply_parts(text)
    assert live_markup(part) == [], part
    assert "evil" in shown(part) or "img" in shown(part)


def test_a_literal_fence_outgrows_every_backtick_run() -> None:
    assert literal("a```b") == "````a```b````"
    assert literal("`x`") == "`` `x` ``"


def test_a_long_plain_reply_is_cut_before_it_is_escaped() -> None:
    # A cut inside a code span would leave the rest of that part live.
    text = ("x" * 70 + " ") * 60 + "https://evil.test/" + "y" * 3000 + " [a](https://evil.test)"
    parts = reply_parts(text * 2)
    assert len(parts) > 1
    for part in parts:
        assert len(part.encode()) <= MAX_MESSAGE_BYTES
        assert live_markup(part) == [], part[-200:]
