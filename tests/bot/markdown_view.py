"""How a Webex client would read a reply's markdown: a real CommonMark parser, links found.

Webex renders markdown close to CommonMark and turns bare URLs into links; markdown-it-py with
its linkify rule does both, so a test sees what a reader would see: the text shown, and every
link, image or raw HTML element that would be live.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark", {"linkify": True}).enable("linkify")
_MENTION = re.compile(r"<@(all|personEmail:|personId:)", re.IGNORECASE)


def _walk(tokens: list[Token]) -> list[Token]:
    found: list[Token] = []
    for token in tokens:
        found.append(token)
        if token.children:
            found.extend(_walk(token.children))
    return found


def live_markup(markdown: str) -> list[str]:
    """Return every link, image, raw HTML and mention markup the markdown would make live."""
    live = [f"mention {m.group(0)}" for m in _MENTION.finditer(markdown)]
    for token in _walk(_PARSER.parse(markdown)):
        if token.type == "link_open":
            live.append(f"link {token.attrGet('href')}")
        elif token.type == "image":
            live.append(f"image {token.attrGet('src')}")
        elif token.type in ("html_inline", "html_block"):
            live.append(f"html {token.content}")
    return live


def shown(markdown: str) -> str:
    """Return the text a reader sees (code spans and escapes resolved)."""
    parts = [
        token.content
        for token in _walk(_PARSER.parse(markdown))
        if token.type in ("text", "code_inline", "softbreak")
    ]
    return "".join(part or "\n" for part in parts)
