"""Request bodies and queries: JSON with Webex's accepted content types, typed fields."""

from __future__ import annotations

from typing import Any

from flask import request

from tokenbot.emulator.errors import WebexError


def json_body() -> dict[str, Any]:
    """Return the JSON object body (`application/json`, any charset), or raise 400/415."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data" or mimetype == "application/x-www-form-urlencoded":
        return {k: v for k, v in request.form.items()}
    if mimetype and mimetype != "application/json":
        raise WebexError(415, f"Content type '{request.content_type}' not supported")
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise WebexError(400, "The request body must be a JSON object.")
    return data


def bool_field(body: dict[str, Any], name: str) -> bool | None:
    """Return the body's boolean `name` (None when absent), or 400 for anything but true/false."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise WebexError(400, f"Invalid value for {name}: {value!r} (expected true or false).")
    return value


def bool_query(name: str) -> bool | None:
    """Return the query's boolean `name` (None when absent); only `true`/`false` are accepted."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise WebexError(400, f"Invalid value for {name}: {raw!r} (expected true or false).")
    return raw.lower() == "true"
