"""Browser-facing hardening: response headers, cookie policy and safe redirect targets.

The headers go on as an app-wide ``after_request`` hook, so error pages (404, 500, CSRF
failures) carry them too (R-28). The OAuth callback tightens its own Referrer-Policy to
``no-referrer`` (RFC 9700 §4.2).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import request

from tokenbot.core.loopback import is_loopback_host

__all__ = [
    "content_security_policy",
    "cookie_must_be_secure",
    "install_security_headers",
    "origin_of",
    "safe_next",
]


def origin_of(url: str) -> str:
    """Return ``scheme://host[:port]`` of `url`, or "" when it has none."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def cookie_must_be_secure(public_url: str) -> bool:
    """Tell whether cookies need ``Secure``: always, except plain HTTP on a loopback host.

    A browser drops a ``Secure`` cookie set over plain HTTP on anything but localhost, so the
    one exception is the local development panel; everything reachable from elsewhere is
    expected behind TLS.
    """
    parts = urlsplit(public_url)
    return not (parts.scheme == "http" and is_loopback_host(parts.hostname or ""))


def safe_next(target: str | None, default: str = "/") -> str:
    """Return `target` when it is a local absolute path, else `default` (no open redirect).

    Rejects other schemes, ``//host`` and ``/\\host`` (which browsers treat as a host), and
    control characters that some browsers strip before parsing.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 0x20 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def content_security_policy(form_targets: list[str]) -> str:
    """Build the CSP: our own files only, no inline script, never framed.

    `form_targets` are the origins a form may end up at: the "Connect Webex" form posts to us
    and is redirected to Webex's authorize page, which Chromium checks against form-action.
    """
    form_action = " ".join(["'self'", *[t for t in form_targets if t]])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        f"form-action {form_action}; frame-ancestors 'none'"
    )


def install_security_headers(app: Flask, *, csp: str, hsts: bool) -> None:
    """Add the security headers to every response of `app`, error pages included."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = csp
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers.setdefault("Referrer-Policy", "same-origin")
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if hsts:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        # Admin pages and API answers describe live token state: never cache them. Our own
        # static files may be cached.
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        return response
