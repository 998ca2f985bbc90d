"""The one error blueprint: every failure becomes a page (HTML) or a JSON answer, leaking nothing.

Pages get a fixed message per status; JSON gets ``{"error": {"code", "message"}}``. A 500
carries a short error id that is also in the log line with the traceback, so an operator can
find the cause without the page showing it (ASVS 16.5.1).
"""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from tokenbot.admin.principal import wants_json
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.errors import TokenbotError

__all__ = ["bp", "json_error"]

log = logging.getLogger(__name__)
bp = Blueprint("errors", __name__)

_MESSAGES = {
    400: "The request was not understood.",
    401: "Please log in.",
    403: "You may not do that.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    413: "The request is too large.",
    429: "Too many requests. Wait a little and try again.",
    500: "Something went wrong on our side.",
}
_CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "too_many_requests",
    500: "internal_error",
}


def json_error(status: int, code: str, message: str) -> tuple[Response, int]:
    """Return a JSON error answer."""
    return jsonify({"error": {"code": code, "message": message}}), status


def _answer(
    status: int, code: str, message: str, *, error_id: str | None = None
) -> tuple[Response | str, int]:
    if wants_json():
        detail = {"code": code, "message": message}
        if error_id:
            detail["id"] = error_id
        return jsonify({"error": detail}), status
    page = render_template(
        "error.html", status=status, code=code, message=message, error_id=error_id
    )
    return page, status


@bp.app_errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> ResponseReturnValue:
    """Refuse a state-changing request without a valid CSRF token."""
    log.warning("csrf check failed: %s", error.description)
    return _answer(
        400,
        "csrf_failed",
        "This form expired or did not come from this panel. "
        "Go back, reload the page and try again.",
    )


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> ResponseReturnValue:
    """Answer an HTTP error with a fixed, safe message."""
    status = error.code or 500
    response = _answer(
        status, _CODES.get(status, "http_error"), _MESSAGES.get(status, "The request failed.")
    )
    allow = error.get_response().headers.get("Allow")
    if allow:
        body, code = response
        return body, code, {"Allow": allow}
    return response


@bp.app_errorhandler(AccountNotFound)
def account_not_found(error: AccountNotFound) -> ResponseReturnValue:
    """Answer 404 for an account id that does not exist."""
    return _answer(404, error.code, "There is no such account.")


@bp.app_errorhandler(Exception)
def unexpected(error: Exception) -> ResponseReturnValue:
    """Log an unexpected failure with an id and show only the id."""
    error_id = secrets.token_hex(4)
    code = error.code if isinstance(error, TokenbotError) else "internal_error"
    log.error("unhandled error %s (%s)", error_id, code, exc_info=error)
    return _answer(500, code, _MESSAGES[500], error_id=error_id)
