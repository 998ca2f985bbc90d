"""Message text: splitting long replies at Webex's byte limit and stripping a leading mention.

Webex rejects `text` or `markdown` longer than 7439 bytes (docs/webex-api-facts.md §5), so a long
reply goes out as several messages, cut at line boundaries where possible and never inside a
UTF-8 character. A code fence open at a cut is closed and reopened so every part renders.
"""

from __future__ import annotations

import html
import re

__all__ = ["MAX_MESSAGE_BYTES", "neutralize_mentions", "split_message", "strip_leading_mention"]

MAX_MESSAGE_BYTES = 7439
_FENCE = "```"
# Room for "\n```" closing a fence at the end of a part (the reopening line counts as text).
_FENCE_RESERVE = 8
_MENTION = re.compile(
    r'<spark-mention[^>]*data-object-id="(?P<id>[^"]+)"[^>]*>(?P<name>.*?)</spark-mention>',
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]+>")


def split_message(text: str, limit: int = MAX_MESSAGE_BYTES) -> list[str]:
    """Cut `text` into parts of at most `limit` UTF-8 bytes, in order.

    Cuts fall on line boundaries; a single line longer than the limit is cut at the last space
    that fits, else at a character boundary. A fenced code block that spans a cut is closed at
    the end of one part and reopened at the start of the next.

    Args:
        text: The reply (markdown or plain text).
        limit: The largest part in bytes.

    Returns:
        The parts; one part when the text fits, none for an empty text.
    """
    if limit < 256:
        raise ValueError("limit is too small to split markdown safely")
    if len(text.encode("utf-8")) <= limit:
        return [text] if text else []
    budget = limit - _FENCE_RESERVE
    parts: list[str] = []
    current: list[str] = []
    size = 0
    opener: str | None = None  # the line that opened the fence we are in, if any
    # Pieces leave room for a reopening fence line (at most 41 bytes) in the same part.
    for piece in _pieces(text, budget - 48):
        length = len(piece.encode("utf-8"))
        if current and size + length > budget:
            body = "".join(current).rstrip("\n")
            if opener is not None:
                body += "\n" + _FENCE
            if body.strip():
                parts.append(body)
            current, size = [], 0
            if opener is not None:
                current.append(opener)
                size = len(opener.encode("utf-8"))
        current.append(piece)
        size += length
        if piece.lstrip().startswith(_FENCE):
            opener = None if opener is not None else _reopen(piece)
    body = "".join(current).rstrip("\n")
    if body.strip():
        parts.append(body)
    return parts


def _reopen(line: str) -> str:
    """Return the line that reopens a fence like `line` (keeping a short language tag)."""
    opener = line.strip()
    return (opener if len(opener) <= 40 else _FENCE) + "\n"


def _pieces(text: str, budget: int) -> list[str]:
    """Split into lines (keeping newlines), cutting any line longer than `budget` bytes."""
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line.encode("utf-8")) > budget:
            head = _cut(line, budget)
            pieces.append(head)
            line = line[len(head) :]
        if line:
            pieces.append(line)
    return pieces


def _cut(line: str, budget: int) -> str:
    """Return the longest prefix of `line` within `budget` bytes, ending after a space if any."""
    encoded = line.encode("utf-8")[:budget]
    # Drop a trailing partial character: never cut inside a UTF-8 sequence.
    prefix = encoded.decode("utf-8", errors="ignore")
    space = prefix.rfind(" ")
    if space > len(prefix) // 2:
        return prefix[: space + 1]
    return prefix


def strip_leading_mention(
    text: str, html_text: str | None, person_id: str, names: tuple[str, ...]
) -> tuple[str, bool]:
    """Remove a mention of `person_id` from the start of a message.

    Webex puts the mention's display text into `text` and a `<spark-mention>` into `html`. The
    html tells whether the first thing in the message is a mention of us and under which name;
    without html (or without a match there), a leading known name is stripped.

    Args:
        text: The message's plain text.
        html_text: The message's html, when Webex sent one.
        person_id: The Webex person id of the user the bot acts as.
        names: Names the user may be mentioned by (display name, first name).

    Returns:
        The text without the mention (and the punctuation after it), and whether one was found.
    """
    stripped = text.lstrip()
    candidates: list[str] = []
    leading_in_html = False
    if html_text:
        first = _MENTION.search(html_text)
        if first and first.group("id") == person_id:
            before = _TAG.sub("", html_text[: first.start()]).strip()
            if not before:
                leading_in_html = True
                candidates.append(html.unescape(_TAG.sub("", first.group("name"))).strip())
    candidates.extend(name for name in names if name)
    for name in candidates:
        if name and stripped.lower().startswith(name.lower()):
            rest = stripped[len(name) :]
            if rest and rest[0].isalnum():
                continue  # "Alicebot" does not mention "Alice"
            return rest.lstrip(" ,:;\t\n"), True
    # Some clients leave the mention's label out of `text`; the html still says it led.
    return (stripped, True) if leading_in_html else (text, False)


# Webex mention markup in markdown: <@all>, <@personEmail:x@y|Name>, <@personId:ID|Name>.
_MENTION_MARKUP = re.compile(
    r"<@(all|personEmail:[^>|]*|personId:[^>|]*)(?:\|([^>]*))?>", re.IGNORECASE
)


def neutralize_mentions(markdown: str) -> str:
    """Turn mention markup into plain `@name` text, so posting it notifies nobody.

    The bot posts as a real person: text someone else made it repeat (echo, a reminder, a
    quoted message) must not let them @mention the whole space in that person's name.
    """

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if label:
            return f"@{label}"
        if target.lower() == "all":
            return "@all"
        return "@" + target.split(":", 1)[1]

    # Repeat until nothing changes: "<<@all>>" would otherwise leave a fresh "<@all>" behind.
    for _ in range(len(markdown)):
        plainer = _MENTION_MARKUP.sub(plain, markdown)
        if plainer == markdown:
            break
        markdown = plainer
    return markdown
