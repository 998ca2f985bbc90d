"""Keep the control API a test tool, not a careless one: no cross-site writes, no secrets out.

The control API has no authentication by design (tests and the sandbox chat page drive it), so
a web page the developer visits must not be able to drive it through their browser: a
state-changing call must not be a cross-site request (`Sec-Fetch-Site`, `Origin`) and must not
carry a body type an HTML form can send (those skip the CORS preflight, which the emulator
never grants). JSON from a test client or from the chat page, same-origin, goes through.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.errors import json_response

__all__ = ["guard_control"]

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# The body types a cross-site <form> (or a "simple" fetch) can send without a preflight.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def _refusal() -> str | None:
    if request.method not in _WRITES:
        return None
    site = request.headers.get("Sec-Fetch-Site", "")
    if site in {"cross-site", "same-site"}:
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        return "cross-origin request refused (Origin is not this emulator)"
    mimetype = request.mimetype or ""
    if mimetype in _FORM_TYPES:
        return f"send JSON (Content-Type: application/json), not {mimetype}"
    return None


def guard_control(bp: Blueprint) -> None:
    """Refuse (403) cross-site and form-typed writes to every route of `bp`."""

    @bp.before_request
    def _check() -> Response | None:
        problem = _refusal()
        if problem is None:
            return None
        return json_response({"error": problem}, 403)
