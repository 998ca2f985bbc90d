"""What the bot says, kept apart from what senders wrote: the one place replies are escaped.

The bot posts as a real person, so nothing a sender (or any third party: a quoted message, a
room title) wrote may reach a reply as live markdown: no link, no image, no mention. Replies
are built as `Markdown` (our own markup, trusted) and everything else is text:

- `Markdown("**{}** ran").format(value)` puts `value` in as `literal(value)` unless it is
  `Markdown` itself, like `markupsafe.Markup` does for HTML (markupsafe escapes HTML, not
  markdown, so it cannot be used here).
- `literal(text)` is an inline code span whose backtick fence is longer than any backtick run
  in the text (CommonMark: nothing inside a code span is markup, and clients do not link URLs
  in code), with line breaks folded to spaces (a blank line would end the paragraph, and with
  it the span) and mention markup turned into plain `@name` first.
- `render_reply(reply)` is what `Poster.post` (`bot/posting.py`) runs on every reply and
  reminder: `Markdown` passes, a plain `str` (what a plugin returned) has every ASCII
  punctuation character backslash-escaped and its mention markup neutralized, so it shows as
  the text it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from typing import SupportsIndex

from tokenbot.bot.text import MAX_MESSAGE_BYTES
from tokenbot.bot.text import neutralize_mentions
from tokenbot.bot.text import split_message

__all__ = ["Markdown", "escape_text", "literal", "render_reply", "reply_parts"]

_BACKTICKS = re.compile(r"`+")
# Every character that ends a line or a paragraph in CommonMark or in Unicode's eyes.
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
# Characters that open markup anywhere in a line (CommonMark shows an escaped one as itself).
_ACTIVE = re.compile(r"([\\`*_\[\]()<>!#|~{}&])")
# Characters that open a block where a line starts: - + = (lists, setext) and "1." / "1)".
_LINE_START = re.compile(r"^([ \t]*)([-+=]|\d{1,9}[.)])", re.MULTILINE)
# What a client would turn into a link by itself.
_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+|\S+@\S+\.\w+")


class Markdown(str):
    """Markdown the bot wrote itself: posted as markup, never escaped again."""

    __slots__ = ()

    def format(self, *args: object, **kwargs: object) -> Markdown:
        """Fill the placeholders, each value as `literal` unless it is `Markdown`."""
        return Markdown(
            super().format(
                *(_safe(arg) for arg in args), **{k: _safe(v) for k, v in kwargs.items()}
            )
        )

    def __add__(self, other: str) -> Markdown:
        return Markdown(str.__add__(self, _safe(other)))

    def __radd__(self, other: str) -> Markdown:
        return Markdown(str.__add__(_safe(other), self))

    def __mul__(self, count: SupportsIndex) -> Markdown:
        return Markdown(str.__mul__(self, count))

    def join(self, parts: Iterable[str]) -> Markdown:
        """Join `parts`, each as `literal` unless it is `Markdown`."""
        return Markdown(str.join(self, (_safe(part) for part in parts)))


def literal(value: object) -> Markdown:
    """Return `value` as an inline code span that no markdown inside can escape from."""
    text = neutralize_mentions(_LINE_BREAKS.sub(" ", str(value)))
    if not text.strip():
        return Markdown(text)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    # A space on each side keeps a leading or trailing backtick off the fence (CommonMark
    # strips exactly one space on each side when both are there).
    if text[0] in "` " or text[-1] in "` ":
        return Markdown(f"{fence} {text} {fence}")
    return Markdown(f"{fence}{text}{fence}")


def escape_text(text: str) -> Markdown:
    """Return plain `text` as markdown that shows exactly that text (and mentions nobody).

    Characters that start markup anywhere are backslash-escaped, and those that start a
    block (list, heading underline, numbered item) where a line begins; URLs become code
    spans, so no client turns them into links.
    """
    out: list[str] = []
    position = 0
    text = neutralize_mentions(text)
    for match in _URL.finditer(text):
        out.append(_escape_plain(text[position : match.start()]))
        out.append(literal(match.group(0)))
        position = match.end()
    out.append(_escape_plain(text[position:]))
    return Markdown("".join(out))


def _escape_plain(text: str) -> str:
    text = _ACTIVE.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


def render_reply(reply: str) -> str:
    """Return the markdown to post for a reply: ours as is, anything else escaped."""
    if isinstance(reply, Markdown):
        return str(reply)
    return str(escape_text(reply))


def reply_parts(reply: str) -> list[str]:
    """Return the messages to post for a reply, each within Webex's size limit.

    Plain text is cut *before* it is escaped, so no cut can fall inside an escape or a code
    span (half a span would leave the rest of the text live); a piece that escaping made too
    long is cut again at half the size (escaping at most doubles it).
    """
    if isinstance(reply, Markdown):
        return split_message(str(reply))
    parts: list[str] = []
    for piece in split_message(reply):
        escaped = str(escape_text(piece))
        if len(escaped.encode("utf-8")) <= MAX_MESSAGE_BYTES:
            parts.append(escaped)
        else:
            halves = split_message(piece, MAX_MESSAGE_BYTES // 2 - 16)
            parts.extend(str(escape_text(half)) for half in halves)
    return parts


def _safe(value: Any) -> Any:
    """Return `value` ready to go into our markup: `Markdown` and numbers as they are."""
    if isinstance(value, Markdown):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return literal(value)
