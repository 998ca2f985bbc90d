"""Reply values and card-submit input checks: the parts with no Webex in them."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from tokenbot.bot.dispatch import validate_inputs
from tokenbot.bot.markup import Markdown
from tokenbot.bot.markup import reply_parts
from tokenbot.bot.replies import Card
from tokenbot.bot.replies import File
from tokenbot.bot.replies import Text
from tokenbot.bot.replies import as_replies
from tokenbot.bot.replies import submit_action

CARD = {"type": "AdaptiveCard", "version": "1.3", "body": []}


def test_a_card_needs_a_fallback_and_at_most_five_actions() -> None:
    with pytest.raises(ValueError, match="fallback"):
        Card(content=CARD, fallback=" ")
    with pytest.raises(ValueError, match="at most 5"):
        Card(content={**CARD, "actions": [submit_action("x", "cb")] * 6}, fallback="f")
    card = Card(content=CARD, fallback="f")
    assert card.attachment()["contentType"] == "application/vnd.microsoft.card.adaptive"


def test_a_file_needs_one_source_and_a_plain_name() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        File(name="a.txt")
    with pytest.raises(ValueError, match="plain file name"):
        File(name="../a.txt", data=b"x")


def test_as_replies() -> None:
    assert as_replies(None) == []
    assert as_replies("hi") == ["hi"]
    assert as_replies(["a", "", Text("b")]) == ["a", Text("b")]
    with pytest.raises(TypeError, match="not a reply"):
        as_replies([42])


def test_card_input_shown_through_markup_is_never_live() -> None:
    # Card inputs (third-party text) go into replies through `markup`, as every other
    # sender's words: one code span, no markup, no mention, no line break.
    hostile = "<@personEmail:x@example.com> **b** [l](http://e) `c` <b>h</b>\nnext"
    shown = Markdown("Hello, {}!").format(hostile)
    assert "<@" not in shown and "\n" not in shown
    html = MarkdownIt("commonmark").render(shown)
    assert "<strong>" not in html and "<a " not in html and "<b>" not in html
    assert html.count("<code>") == 1
    # As plain text (a `str` reply, a card's fallback, a file's caption) it is escaped too.
    (plain,) = reply_parts(hostile)
    html = MarkdownIt("commonmark").render(plain)
    assert "<@" not in plain
    assert "<strong>" not in html and "<a " not in html and "<b>" not in html


def test_validate_inputs() -> None:
    assert validate_inputs(None, 100) == {}
    assert validate_inputs({"a": "b", "n": 2, "t": True}, 100) == {"a": "b", "n": "2", "t": "true"}
    assert validate_inputs({"a": "x" * 200}, 100) is None  # too large
    assert validate_inputs({"bad key": "x"}, 100) is None
    assert validate_inputs({"a": {"nested": 1}}, 100) is None
    assert validate_inputs(["a"], 100) is None
