"""The Flask app factory: REST, OAuth, control API and the sandbox chat page."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask import Response
from flask import request
from werkzeug.exceptions import HTTPException

from tokenbot.emulator.chat import bp as chat_bp
from tokenbot.emulator.control import ControlError
from tokenbot.emulator.control import bp as control_bp
from tokenbot.emulator.control import control_error_response
from tokenbot.emulator.errors import OAuthError
from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import current_tracking_id
from tokenbot.emulator.errors import oauth_error_response
from tokenbot.emulator.errors import webex_error_response
from tokenbot.emulator.mercury import install as install_mercury
from tokenbot.emulator.middleware import EmulatorMiddleware
from tokenbot.emulator.oauth import bp as oauth_bp
from tokenbot.emulator.rest import BLUEPRINTS
from tokenbot.emulator.rest.attachment_actions import control_bp as control_cards_bp
from tokenbot.emulator.rest.auth import RateLimited
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.state import EmulatorState

_HERE = Path(__file__).resolve().parent


def create_app(state: EmulatorState) -> Flask:
    """Build the emulator's WSGI app around `state`.

    Args:
        state: the world the app serves; tests may share it with the server that runs it.
    """
    app = Flask("emulator", template_folder=str(_HERE / "templates"), static_folder=None)
    app.extensions["webex_emulator"] = state
    app.json.sort_keys = False  # type: ignore[attr-defined]
    for bp in [oauth_bp, *BLUEPRINTS, control_bp, control_cards_bp, chat_bp]:
        app.register_blueprint(bp)
    app.register_error_handler(WebexError, _webex_error)
    app.register_error_handler(OAuthError, oauth_error_response)
    app.register_error_handler(ControlError, control_error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_webex_headers)
    install_mercury(app, state)
    app.wsgi_app = EmulatorMiddleware(app.wsgi_app, state)  # type: ignore[method-assign]
    return app


def _webex_error(error: WebexError) -> Response:
    if isinstance(error, RateLimited) and state().settings.rate_limit_html_body:
        # Webex's documented 429 is text/html (facts section 5).
        body = "<html><body><h1>429 Too Many Requests</h1></body></html>"
        return Response(body, status=429, content_type="text/html", headers=error.headers)
    return webex_error_response(error)


def _http_error(error: HTTPException) -> Response | HTTPException:
    if request.path.startswith("/v1/"):
        status = error.code or 500
        message = "The requested resource could not be found."
        headers: dict[str, str] = {}
        if status == 405:
            message = f"Method {request.method} is not allowed on {request.path}."
            allowed = getattr(error, "valid_methods", None) or []
            headers["Allow"] = ", ".join(sorted(allowed))
        return webex_error_response(WebexError(status, message, headers))
    return error


def _webex_headers(response: Response) -> Response:
    if request.path.startswith("/v1/"):
        response.headers["trackingid"] = current_tracking_id()
        response.headers.setdefault("Cache-Control", "no-cache")
    return response
