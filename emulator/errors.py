"""Errors the way Webex answers them, and the JSON responses around them."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask import g

from tokenbot.emulator.ids import tracking_id

JSON_TYPE = "application/json;charset=UTF-8"
INVALID_TOKEN = "The request requires a valid access token set in the Authorization request header."


class WebexError(Exception):
    """A REST error: status plus the message Webex would put in its body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class OAuthError(Exception):
    """A token endpoint error (`error` code plus description)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def current_tracking_id() -> str:
    """Return this request's tracking id, making one on first use."""
    if "tracking_id" not in g:
        g.tracking_id = tracking_id()
    return str(g.tracking_id)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Return JSON with Webex's content type and tracking header."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    response = Response(body, status=status, content_type=JSON_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def webex_error_body(message: str, tracking: str) -> dict[str, Any]:
    """Return Webex's generic error body."""
    return {"message": message, "errors": [{"description": message}], "trackingId": tracking}


def webex_error_response(error: WebexError) -> Response:
    """Render a WebexError."""
    body = webex_error_body(error.message, current_tracking_id())
    return json_response(body, error.status, error.headers)


def oauth_error_response(error: OAuthError) -> Response:
    """Render an OAuthError with both OAuth and Webex fields (facts §1.2)."""
    body = {"error": error.error, "error_description": error.description}
    body.update(webex_error_body(error.description, current_tracking_id()))
    return json_response(body, error.status)
