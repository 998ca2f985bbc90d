"""Message markup: mentions, and the html/text Webex derives from markdown."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from tokenbot.emulator.model import Person

_MENTION = re.compile(r"<@(personEmail|personId):([^|>]+)(?:\|([^>]*))?>|<@all>")
# The Webex subset of markdown (bold, italic, code spans, fenced and indented code, headings,
# lists, quotes, links, line breaks), rendered by markdown-it-py's CommonMark parser; raw HTML
# in a message is shown as text, never passed through.
_MD = MarkdownIt("commonmark", {"html": False, "breaks": True})
_BETWEEN_TAGS = re.compile(r">\n(?=<)")
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")


def _link_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", "nofollow")
    return str(self.renderToken(tokens, idx, options, env))


_MD.add_render_rule("link_open", _link_open)


@dataclass
class Rendered:
    """What a message body becomes."""

    text: str
    html: str | None
    mentioned: list[Person] = field(default_factory=list)
    mentioned_groups: list[str] = field(default_factory=list)


def find_mentions(
    body: str, resolve: Callable[[str, str], Person | None]
) -> tuple[list[Person], list[str]]:
    """Return the people and groups mentioned in `body` (in order, without repeats)."""
    people: list[Person] = []
    groups: list[str] = []
    for match in _MENTION.finditer(body):
        if match.group(0) == "<@all>":
            if "all" not in groups:
                groups.append("all")
            continue
        person = resolve(match.group(1), match.group(2).strip())
        if person is not None and person not in people:
            people.append(person)
    return people, groups


def render_markdown(body: str, resolve: Callable[[str, str], Person | None]) -> Rendered:
    """Render markdown to Webex-style html and plain text, resolving mentions.

    Mentions are swapped for placeholders before parsing (so `<@personEmail:x>` is not read as
    an autolink), then become `<spark-mention>` tags in the html and their label in the text.
    """
    people, groups = find_mentions(body, resolve)
    tags: list[str] = []
    labels: list[str] = []

    def hold(match: re.Match[str]) -> str:
        label, tag = _mention_tag(match, resolve)
        labels.append(label)
        tags.append(tag)
        return f"\ue000{len(tags) - 1}\ue001"

    source = _MENTION.sub(hold, body)
    rendered = _BETWEEN_TAGS.sub(">", _MD.render(source).replace("<br />\n", "<br/>")).strip()
    html_out = _PLACEHOLDER.sub(lambda m: tags[int(m.group(1))], rendered) or "<p></p>"
    text = _plain_text(_MD.parse(source))
    text = _PLACEHOLDER.sub(lambda m: labels[int(m.group(1))], text)
    return Rendered(text, html_out, people, groups)


def _plain_text(tokens: list[Token]) -> str:
    """Return what a reader sees: every block's words, one block per line, no markup."""
    blocks: list[str] = []
    for token in tokens:
        if token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip("\n"))
        elif token.type == "inline":
            parts: list[str] = []
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append("\n")
                elif child.type == "image":
                    parts.append(child.content)
            blocks.append("".join(parts))
    return "\n".join(blocks)


def _mention_tag(
    match: re.Match[str], resolve: Callable[[str, str], Person | None]
) -> tuple[str, str]:
    if match.group(0) == "<@all>":
        tag = (
            '<spark-mention data-object-type="groupMention" data-group-type="all">'
            "All</spark-mention>"
        )
        return "All", tag
    person = resolve(match.group(1), match.group(2).strip())
    label = match.group(3) or (person.display_name if person else match.group(2))
    if person is None:
        return label, html.escape(label)
    tag = (
        f'<spark-mention data-object-type="person" data-object-id="{person.id}">'
        f"{html.escape(label)}</spark-mention>"
    )
    return label, tag
