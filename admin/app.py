"""The app factory: `create_app(settings, runtime)` wires blueprints to an existing runtime.

Nothing here opens a database connection, a socket or a thread: the runtime already holds the
database, and the scheduler and bot are started by `tokenbot serve`, never by the app (a WSGI
server with several workers would start several).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Flask
from flask import request
from flask_wtf.csrf import CSRFProtect

from tokenbot.admin import admin_login
from tokenbot.admin import api
from tokenbot.admin import api_tokens_page
from tokenbot.admin import connect
from tokenbot.admin import dashboard
from tokenbot.admin import errors
from tokenbot.admin import health
from tokenbot.admin import notify
from tokenbot.admin import relink
from tokenbot.admin.hosts import allowed_hosts
from tokenbot.admin.hosts import install_host_check
from tokenbot.admin.metrics import PanelMetrics
from tokenbot.admin.metrics import TokenSample
from tokenbot.admin.panel import EXTENSION_KEY
from tokenbot.admin.panel import BotFacts
from tokenbot.admin.panel import Panel
from tokenbot.admin.panel import PanelConfig
from tokenbot.admin.presenters import duration_text
from tokenbot.admin.presenters import iso
from tokenbot.admin.presenters import token_samples
from tokenbot.admin.presenters import utc_text
from tokenbot.admin.principal import load_admin
from tokenbot.admin.security import content_security_policy
from tokenbot.admin.security import install_security_headers
from tokenbot.admin.security import origin_of
from tokenbot.core.admins import AdminStore
from tokenbot.core.broker import HANDOUT_RESULTS
from tokenbot.core.broker import handout_counters
from tokenbot.core.config import Settings
from tokenbot.core.refresher import RESULTS
from tokenbot.core.refresher import refresh_counters
from tokenbot.core.runtime import Runtime

__all__ = ["MAX_BODY_BYTES", "create_app", "panel_config"]

# The largest request body any panel route accepts (forms are small); the web server refuses
# larger ones before reading them.
MAX_BODY_BYTES = 64 * 1024
# Endpoints that must stay cheap and work without a session (probes, scrapers, our CSS/JS).
_NO_SESSION_ENDPOINTS = {"static", "health.healthz", "health.readyz", "health.metrics"}


def panel_config(settings: Settings) -> PanelConfig:
    """Take what the panel needs from validated `settings` (`PanelConfig.from_settings`)."""
    return PanelConfig.from_settings(settings)


def create_app(
    settings: Settings,
    runtime: Runtime,
    *,
    scheduler_alive: Callable[[], bool] | None = None,
    bot_status: Callable[[], BotFacts] | None = None,
    metrics: PanelMetrics | None = None,
    admins: AdminStore | None = None,
) -> Flask:
    """Build the admin panel around an existing runtime.

    Args:
        settings: The loaded settings.
        runtime: The runtime (database, store, oauth client, token service, clock); the app
            only uses it, it never opens or closes it.
        scheduler_alive: Tells `/readyz` whether the refresh scheduler runs; None when this
            process runs no scheduler (then readiness depends on the database only).
        bot_status: Returns the bot card's facts (keys: intake_mode, webhook_registered,
            last_event_at, commands_handled, errors, last_error); None when no bot runs here.
        metrics: The process's `PanelMetrics`; pass the one the refresher and bot record into.
        admins: The admin store; by default one over `runtime.database`.
    """
    config = panel_config(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,  # TOKENBOT_SECRET_KEY, checked by core.config
        DEBUG=False,
        # '__Host-' pins the cookie to this host and path '/', and requires Secure (ASVS 3.3.1).
        SESSION_COOKIE_NAME="__Host-tokenbot" if config.secure_cookies else "tokenbot_session",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=config.absolute_seconds),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        # A CSRF token lives as long as the session it belongs to; the session has its own
        # idle and absolute limits on the server.
        WTF_CSRF_TIME_LIMIT=config.absolute_seconds,
        WTF_CSRF_SSL_STRICT=True,
        PREFERRED_URL_SCHEME="https" if config.secure_cookies else "http",
        TEMPLATES_AUTO_RELOAD=False,
    )
    metrics = metrics or PanelMetrics()
    admins = admins or AdminStore(runtime.database, clock=runtime.clock)
    the_panel = Panel(
        config=config,
        runtime=runtime,
        admins=admins,
        metrics=metrics,
        scheduler_alive=scheduler_alive,
        bot_status=bot_status,
    )
    app.extensions[EXTENSION_KEY] = the_panel

    def sample() -> Iterator[TokenSample]:
        return token_samples(runtime.store, runtime.clock)

    metrics.watch_tokens(sample)
    metrics.watch_refreshes(refresh_counters, RESULTS)
    metrics.watch_handouts(handout_counters, HANDOUT_RESULTS)
    if bot_status is not None:

        def intake() -> tuple[str | None, int]:
            facts = the_panel.bot_facts() or {}
            return facts.get("intake_state"), int(facts.get("intake_missed", 0) or 0)

        metrics.watch_intake(intake)

    # First: a request for another host name (DNS rebinding) gets no further than this.
    install_host_check(app, allowed_hosts(settings.panel))
    csrf = CSRFProtect(app)
    # The broker route authenticates by bearer header only, never by cookie: a cross-site
    # form cannot send it, so a CSRF token would protect nothing there.
    csrf.exempt(api.access_token)
    authorize_origin = origin_of(settings.webex.authorize_url)
    install_security_headers(
        app,
        csp=content_security_policy([authorize_origin]),
        hsts=config.secure_cookies,
    )

    @app.before_request
    def _load_admin() -> None:
        if request.endpoint not in _NO_SESSION_ENDPOINTS:
            load_admin()

    app.register_blueprint(errors.bp)
    app.register_blueprint(admin_login.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_tokens_page.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(notify.bp)
    app.register_blueprint(relink.bp)
    app.register_blueprint(connect.make_blueprint(config.redirect_path))
    app.jinja_env.filters["utc"] = utc_text
    app.jinja_env.filters["duration"] = duration_text

    @app.context_processor
    def _server_time() -> dict[str, Any]:
        # Countdowns in the browser follow the server's clock, not the viewer's.
        # A live poll (panel.js, header X-Live) re-renders the page for its live parts: it
        # must not consume the flash messages meant for the next real page view.
        return {
            "server_now": iso(runtime.clock.now()),
            "poll_seconds": config.poll_seconds,
            "live_request": request.headers.get("X-Live") == "1",
        }

    return app
