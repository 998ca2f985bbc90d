"""Reply values and card-submit input checks: the parts with no Webex in them."""

from __future__ import annotations

import pytest

from tokenbot.bot.dispatch import validate_inputs
from tokenbot.bot.replies import Card
from tokenbot.bot.replies import File
from tokenbot.bot.replies import Text
from tokenbot.bot.replies import as_replies
from tokenbot.bot.replies import literal
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


def test_literal_defuses_markdown_html_and_mentions() -> None:
    shown = literal("<@personEmail:x@example.com> **b** [l](http://e) `c`\nnext", limit=200)
    assert "<" not in shown and "**" not in shown and "](" not in shown
    assert "\n" not in shown
    assert len(literal("x" * 1000, limit=10)) <= 20


def test_validate_inputs() -> None:
    assert validate_inputs(None, 100) == {}
    assert validate_inputs({"a": "b", "n": 2, "t": True}, 100) == {"a": "b", "n": "2", "t": "true"}
    assert validate_inputs({"a": "x" * 200}, 100) is None  # too large
    assert validate_inputs({"bad key": "x"}, 100) is None
    assert validate_inputs({"a": {"nested": 1}}, 100) is None
    assert validate_inputs(["a"], 100) is None
