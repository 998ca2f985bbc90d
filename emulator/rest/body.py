"""Request bodies: JSON with Webex's accepted content types."""

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
