"""Splitting replies at Webex's byte limit, and stripping a leading mention."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tokenbot.bot.text import MAX_MESSAGE_BYTES
from tokenbot.bot.text import split_message
from tokenbot.bot.text import strip_leading_mention


def test_short_text_is_one_part() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == []


def test_long_text_splits_on_lines_in_order_within_the_limit() -> None:
    lines = [f"line {i:05d} é😀" for i in range(2000)]
    text = "\n".join(lines)
    parts = split_message(text)
    assert len(parts) > 1
    assert all(len(part.encode()) <= MAX_MESSAGE_BYTES for part in parts)
    assert "\n".join(parts) == text  # nothing lost, nothing reordered, cut at line ends


def test_a_line_longer_than_the_limit_is_cut_at_a_character_boundary() -> None:
    text = "😀" * 5000  # 20000 bytes, no spaces, 4-byte characters
    parts = split_message(text)
    assert "".join(parts) == text
    assert all(len(part.encode()) <= MAX_MESSAGE_BYTES for part in parts)


def test_code_fences_are_closed_and_reopened_across_parts() -> None:
    text = "```python\n" + "\n".join(f"x = {i}" for i in range(3000)) + "\n```\nafter"
    parts = split_message(text)
    assert len(parts) > 1
    for part in parts:
        assert part.count("```") % 2 == 0, part[:40]
        assert len(part.encode()) <= MAX_MESSAGE_BYTES
    assert parts[1].startswith("```python\n")


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=3000), st.integers(min_value=256, max_value=900))
def test_every_part_fits_and_the_words_survive(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(len(part.encode("utf-8")) <= limit for part in parts)
    joined = "".join(parts).replace("```", "")
    assert "".join(text.replace("```", "").split()) == "".join(joined.split())


def test_mention_from_html_is_stripped() -> None:
    html = (
        '<p><spark-mention data-object-type="person" data-object-id="P1">Alice</spark-mention>'
        " /help</p>"
    )
    assert strip_leading_mention("Alice /help", html, "P1", ()) == ("/help", True)


def test_mention_of_someone_else_is_not_ours() -> None:
    html = '<p><spark-mention data-object-id="P2">Bob</spark-mention> help</p>'
    assert strip_leading_mention("Bob help", html, "P1", ("Alice",)) == ("Bob help", False)


def test_leading_name_without_html_counts_but_not_inside_a_word() -> None:
    assert strip_leading_mention("Alice Liddell, ping", None, "P1", ("Alice Liddell", "Alice")) == (
        "ping",
        True,
    )
    assert strip_leading_mention("Alicebot ping", None, "P1", ("Alice",)) == (
        "Alicebot ping",
        False,
    )


def test_a_leading_mention_counts_when_text_leaves_its_label_out() -> None:
    html = '<p><spark-mention data-object-id="P1">Alice</spark-mention> ping</p>'
    assert strip_leading_mention(" ping", html, "P1", ("Alice",)) == ("ping", True)


def test_neutralize_mentions_turns_markup_into_plain_text() -> None:
    from tokenbot.bot.text import neutralize_mentions

    text = "hi <@all> and <@personEmail:carol@example.com|Carol> and <@personId:Y2lz> done"
    assert neutralize_mentions(text) == "hi @all and @Carol and @Y2lz done"
    assert neutralize_mentions("a <b>bold</b> <@ALL>") == "a <b>bold</b> @all"
    # Nesting cannot rebuild a mention after one pass ("<@Boss>" is no Webex markup).
    assert neutralize_mentions("<<@all>> <<@personEmail:boss@x.com|Boss>>") == "@all <@Boss>"
    assert neutralize_mentions("<<<@all>>>") == "@all"
