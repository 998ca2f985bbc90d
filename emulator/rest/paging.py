"""Paging: `max` clamping and absolute `Link: <...>; rel="next"` headers.

The cursor travels in its own `cursor` parameter because webexpythonsdk rewrites `max`,
`before`, `beforeMessage`, `roomId`, `parentId` and `mentionedPeople` in next links with the
first request's values (facts section 2.7): a cursor in any of those would loop forever.
"""

from __future__ import annotations

import base64
from typing import Any
from typing import TypeVar
from urllib.parse import urlencode

from flask import current_app
from flask import request

from tokenbot.emulator.errors import WebexError

T = TypeVar("T")
CURSOR = "cursor"


def max_param(default: int, limit: int) -> int:
    """Return the request's `max`: 1..limit, or 400 beyond (setting `clamp_max`: clamp it).

    The spec states the bounds ("Value must be between 1 and 1000, inclusive", "Cannot exceed
    100 if used with `mentionedPeople`"), so over the bound is refused by default.
    """
    raw = request.args.get("max")
    if raw is None or raw == "" or raw == "null":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise WebexError(400, f"Invalid value for max: {raw}") from exc
    if value < 1:
        raise WebexError(400, "max must be a positive number")
    if value > limit:
        settings = current_app.extensions["webex_emulator"].settings
        if not settings.clamp_max:
            raise WebexError(400, f"Invalid value for max: {raw} (must be between 1 and {limit}).")
    return min(value, limit)


def encode_cursor(position: int) -> str:
    """Return an opaque, URL-safe cursor."""
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).rstrip(b"=").decode("ascii")


def decode_cursor() -> int | None:
    """Return the position in the request's cursor, if any."""
    raw = request.args.get(CURSOR)
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        kind, _, number = text.partition(":")
        if kind != "pos":
            raise ValueError(text)
        return int(number)
    except ValueError as exc:
        raise WebexError(400, "Invalid paging cursor.") from exc


def next_link(position: int) -> str:
    """Return the absolute next-page URL: this request's query with a new cursor."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != CURSOR]
    pairs.append((CURSOR, encode_cursor(position)))
    return f'<{request.base_url}?{urlencode(pairs)}>; rel="next"'


def page_by_offset(items: list[T], size: int) -> tuple[list[T], dict[str, str]]:
    """Return one page of a stable list plus the Link header when more remain."""
    start = decode_cursor() or 0
    chunk = items[start : start + size]
    headers: dict[str, str] = {}
    if start + size < len(items):
        headers["Link"] = next_link(start + size)
    return chunk, headers


def items_body(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Return Webex's list envelope."""
    return {"items": items}
