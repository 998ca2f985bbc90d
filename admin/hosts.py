"""Answer only requests addressed to the panel by one of its own names (DNS rebinding).

A page on `evil.test` whose DNS answer turns into the panel's address can make the victim's
browser fetch `/metrics` or `/readyz` and read them, as same-origin, since the browser believes
it is still talking to `evil.test`. The `Host` header gives it away: it names `evil.test`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import request
from werkzeug.sansio.utils import host_is_trusted

__all__ = ["allowed_hosts", "install_host_check"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
# Liveness probes (container runtimes, load balancers) use whatever name or address they like;
# /healthz says only "ok".
_ANY_HOST_ENDPOINTS = {"health.healthz"}


def allowed_hosts(panel_settings: Any) -> tuple[str, ...]:
    """Return `panel.allowed_hosts`, or by default the public URL's host, panel.host, loopback."""
    configured = tuple(getattr(panel_settings, "allowed_hosts", ()) or ())
    if configured:
        return configured
    names: list[str] = []
    public_url = getattr(panel_settings, "public_url", None)
    if public_url:
        host = urlsplit(public_url).hostname
        if host:
            names.append(host)
    bound = str(getattr(panel_settings, "host", "") or "")
    if bound and bound not in {"0.0.0.0", "::", "[::]"}:
        names.append(bound)
    names.extend(LOOPBACK_NAMES)
    return tuple(dict.fromkeys(names))


def install_host_check(app: Flask, hosts: Iterable[str]) -> None:
    """Refuse (400) every request whose Host is not in `hosts`; register before anything else."""
    trusted = list(hosts)

    @app.before_request
    def _check_host() -> Response | None:
        if request.endpoint in _ANY_HOST_ENDPOINTS:
            return None
        host = request.headers.get("Host", "")
        if host and host_is_trusted(host, trusted):
            return None
        message = (
            "This server does not answer to that host name. If it is yours, add it to "
            "panel.allowed_hosts.\n"
        )
        return Response(message, status=400, content_type="text/plain; charset=utf-8")
