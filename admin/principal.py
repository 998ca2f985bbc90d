"""Who is asking: the admin behind the session cookie, or the API token in the header.

Flask's signed cookie holds three opaque random values and nothing else: the server-side
session id (``sid``), Flask-WTF's CSRF token, and a browser binding (``ob``) whose hash ties
a pending OAuth login to this browser. Never a state, a verifier or a token: the cookie is
signed, not encrypted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from typing import TypeVar
from typing import cast

from flask import g
from flask import redirect
from flask import request
from flask import session
from flask import url_for

from tokenbot.admin.panel import panel
from tokenbot.core.admins import SCOPE_STATUS
from tokenbot.core.admins import AdminPrincipal
from tokenbot.core.admins import ApiClient
from tokenbot.core.hashing import sha256_hex

__all__ = [
    "api_client",
    "browser_binding",
    "current_admin",
    "load_admin",
    "login_required",
    "log_in",
    "log_out",
    "wants_json",
]

F = TypeVar("F", bound=Callable[..., Any])
_SESSION_ID = "sid"
_BINDING = "ob"


def load_admin() -> None:
    """Resolve the session cookie to an admin (before each request); drop dead sessions."""
    g.admin = None
    g.api_client = None
    sid = session.get(_SESSION_ID)
    if not isinstance(sid, str):
        return
    config = panel().config
    principal = panel().admins.resolve_session(
        sid, idle_seconds=config.idle_seconds, absolute_seconds=config.absolute_seconds
    )
    if principal is None:
        # Timed out or logged out elsewhere: forget it, including the OAuth binding.
        session.clear()
        return
    g.admin = principal


def current_admin() -> AdminPrincipal | None:
    """Return the logged-in admin of this request, if any."""
    return cast(AdminPrincipal | None, g.get("admin"))


def log_in(principal: AdminPrincipal) -> None:
    """Start a new session for `principal`: a fresh cookie, never the pre-login one (ASVS 7.2.4)."""
    admins = panel().admins
    old = session.get(_SESSION_ID)
    if isinstance(old, str):
        admins.end_session(old)
    # Logins are rare: a good moment to drop sessions that timed out without a logout.
    config = panel().config
    admins.purge_expired(idle_seconds=config.idle_seconds, absolute_seconds=config.absolute_seconds)
    session.clear()
    session[_SESSION_ID] = panel().admins.start_session(principal.admin_id)
    session[_BINDING] = secrets.token_urlsafe(32)
    g.admin = principal


def log_out() -> None:
    """End the session on the server and in the cookie."""
    sid = session.get(_SESSION_ID)
    if isinstance(sid, str):
        panel().admins.end_session(sid)
    session.clear()
    g.admin = None


def browser_binding() -> str:
    """Return the SHA-256 of this browser's binding value (what the store keeps)."""
    value = session.get(_BINDING)
    if not isinstance(value, str) or not value:
        return ""
    return sha256_hex(value)


def wants_json() -> bool:
    """Tell whether this request should be answered in JSON (API paths and JSON clients)."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def api_client() -> ApiClient | None:
    """Return who sent the bearer API token of this request, or None (none, unknown, expired)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return panel().admins.authenticate_api_token(token.strip())


def login_required(*, api: bool = False) -> Callable[[F], F]:
    """Require an admin session; with `api`, a bearer API token with ``status:read`` too.

    Pages redirect to the login form with a local ``next``; the API answers 401 JSON, and 403
    to a token without the ``status:read`` scope (a broker-only token reads no metadata).
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_admin() is not None:
                return view(*args, **kwargs)
            if api:
                from tokenbot.admin.errors import json_error

                client = api_client()
                if client is not None and not client.has_scope(SCOPE_STATUS):
                    return json_error(
                        403, "forbidden", f"this API token lacks the {SCOPE_STATUS} scope"
                    )
                if client is not None:
                    g.api_client = client
                    return view(*args, **kwargs)

                return json_error(401, "login_required", "log in or send an API token")
            target = request.full_path if request.method == "GET" else "/"
            return redirect(url_for("auth.login", next=target.rstrip("?")))

        return cast(F, wrapper)

    return decorate
