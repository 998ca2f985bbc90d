"""Message markup: mentions, and the html/text Webex derives from markdown."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from tokenbot.emulator.model import Person

_MENTION = re.compile(r"<@(personEmail|personId):([^|>]+)(?:\|([^>]*))?>|<@all>")
_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)"), r"<em>\1</em>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)"), r'<a href="\2">\1</a>'),
]
_STRIP = [
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)"), r"\1"),
]


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
    """Render markdown to Webex-style html and plain text, resolving mentions."""
    people, groups = find_mentions(body, resolve)
    html_parts: list[str] = []
    text_parts: list[str] = []
    position = 0
    for match in _MENTION.finditer(body):
        html_parts.append(_inline_html(body[position : match.start()]))
        text_parts.append(_inline_text(body[position : match.start()]))
        label, tag = _mention_tag(match, resolve)
        html_parts.append(tag)
        text_parts.append(label)
        position = match.end()
    html_parts.append(_inline_html(body[position:]))
    text_parts.append(_inline_text(body[position:]))
    rendered = "".join(html_parts)
    paragraphs = [p.replace("\n", "<br/>") for p in re.split(r"\n\s*\n", rendered) if p.strip()]
    html_out = "".join(f"<p>{p}</p>" for p in paragraphs) or "<p></p>"
    return Rendered("".join(text_parts), html_out, people, groups)


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


def _inline_html(chunk: str) -> str:
    out = html.escape(chunk, quote=False)
    for pattern, replacement in _INLINE:
        out = pattern.sub(replacement, out)
    return out


def _inline_text(chunk: str) -> str:
    for pattern, replacement in _STRIP:
        chunk = pattern.sub(replacement, chunk)
    return chunk
