"""What a command may answer: text, markdown, a card (always with a text fallback), a file.

A handler returns one of these, a list of them (posted as separate messages, in order), a
`markup.Markdown` (our own markup), a plain `str` (shown as the text it is) or None. The router
and the handlers never see the SDK: the `posting.Poster` turns each reply into one Webex
message, and every text in it (a card's fallback, a file's caption) goes through
`markup.reply_parts`, the one place replies are escaped. Third-party text inside a card's own
content (a `TextBlock` renders markdown) goes in through `markup.literal`.

Card buttons carry `{"tb_callback": "<name>", ...}` in their `Action.Submit` data; a callback a
command registered under that name gets the submit (see `Router.card_callback`).
`RunCommand` is what the help card's buttons answer with: run that command as if typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from tokenbot.bot.markup import Markdown

__all__ = [
    "CALLBACK_KEY",
    "CARD_CONTENT_TYPE",
    "Card",
    "File",
    "Markdown",
    "Reply",
    "Replies",
    "RunCommand",
    "Text",
    "as_replies",
    "submit_action",
]

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CALLBACK_KEY = "tb_callback"
# Webex: "Cards may include up to five buttons (actions)".
MAX_CARD_ACTIONS = 5


@dataclass(frozen=True, slots=True)
class Text:
    """Plain text: shown as typed (escaped by `markup.reply_parts`), like a plain `str`."""

    text: str


@dataclass(frozen=True, slots=True)
class Card:
    """An Adaptive Card (1.3) with the markdown shown by clients that cannot render cards.

    Attributes:
        content: The card (`{"type": "AdaptiveCard", "version": "1.3", "body": [...], ...}`).
        fallback: What clients without cards show; required, never empty. `Markdown` is posted
            as markup, a plain `str` as the text it is.
    """

    content: Mapping[str, Any]
    fallback: str

    def __post_init__(self) -> None:
        if not self.fallback.strip():
            raise ValueError("a card reply needs a text fallback for clients without cards")
        if self.content.get("type") != "AdaptiveCard":
            raise ValueError('a card\'s content must have "type": "AdaptiveCard"')
        if len(self.content.get("actions") or ()) > MAX_CARD_ACTIONS:
            raise ValueError(f"a card may have at most {MAX_CARD_ACTIONS} actions (Webex)")

    def attachment(self) -> dict[str, Any]:
        """Return the `attachments` item Webex expects."""
        return {"contentType": CARD_CONTENT_TYPE, "content": dict(self.content)}


@dataclass(frozen=True, slots=True)
class File:
    """A file: bytes in memory or a local path, with an optional markdown text beside it.

    Attributes:
        name: The file name the recipient sees (a plain name, no folders).
        data: The bytes (give these or `path`).
        path: A local file to send (give this or `data`).
        text: Posted in the same message: `Markdown` as markup, a plain `str` as text.
    """

    name: str
    data: bytes | None = field(default=None, repr=False)
    path: Path | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("a file reply needs exactly one of data or path")
        if not self.name or self.name != Path(self.name).name or self.name in {".", ".."}:
            raise ValueError(f"a file reply's name must be a plain file name, got {self.name!r}")


@dataclass(frozen=True, slots=True)
class RunCommand:
    """Run `name` as if the submitter had typed it (the help card's buttons)."""

    name: str


Reply = str | Text | Card | File | RunCommand
Replies = Reply | Sequence[Reply] | None


def as_replies(result: object) -> list[Reply]:
    """Return a handler's result as a list of replies (a bad type is a programming error)."""
    if result is None:
        return []
    items: list[object] = list(result) if isinstance(result, list | tuple) else [result]
    replies: list[Reply] = []
    for item in items:
        if not isinstance(item, str | Text | Card | File | RunCommand):
            raise TypeError(f"a command returned {type(item).__name__}, not a reply")
        if item != "":
            replies.append(item)
    return replies


def submit_action(title: str, callback: str, **data: str) -> dict[str, Any]:
    """Return an `Action.Submit` that sends `data` to the card callback `callback`."""
    return {"type": "Action.Submit", "title": title, "data": {CALLBACK_KEY: callback, **data}}
