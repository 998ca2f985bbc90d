"""What every blueprint needs from the app: the runtime's parts, resolved once in create_app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import TypedDict
from urllib.parse import urlsplit

from flask import current_app

from tokenbot.admin.metrics import PanelMetrics
from tokenbot.admin.security import cookie_must_be_secure
from tokenbot.core.admins import AdminStore
from tokenbot.core.clock import Clock
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.runtime import Runtime
from tokenbot.core.settings import Settings
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService

__all__ = ["EXTENSION_KEY", "BotFacts", "Panel", "PanelConfig", "panel"]

EXTENSION_KEY = "tokenbot"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PanelConfig:
    """The panel's view of the validated settings: what its views read, in their units.

    Built once by `from_settings`; `core.config` already checked every value (the secret
    key's strength included), so nothing here checks again.
    """

    public_url: str
    secure_cookies: bool
    idle_seconds: int
    absolute_seconds: int
    redirect_uri: str
    redirect_path: str
    scopes: tuple[str, ...]
    secret_key: str = field(default="", repr=False)
    page_size: int = 25
    poll_seconds: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> PanelConfig:
        """Take the `panel` and `webex` sections of `settings` as they are."""
        panel_settings = settings.panel
        redirect_uri = settings.webex.redirect_uri
        return cls(
            public_url=panel_settings.url,
            secure_cookies=cookie_must_be_secure(panel_settings.url),
            idle_seconds=panel_settings.session_idle_minutes * 60,
            absolute_seconds=panel_settings.session_absolute_hours * 3600,
            redirect_uri=redirect_uri,
            redirect_path=urlsplit(redirect_uri).path,
            scopes=settings.webex.scopes,
            secret_key=panel_settings.secret_key.reveal(),
        )


class BotFacts(TypedDict, total=False):
    """What the bot card shows, as `bot_status()` reports it; a missing key shows a default.

    The panel never imports the bot: the process reads these from the bot state in the
    database (`tokenbot.process.bot_status_reader`), so any process can show them.
    """

    intake_mode: str
    webhook_registered: bool
    webhook_status: str | None
    last_event_at: str | datetime | None
    commands_handled: int
    errors: int
    last_error: str | None
    # Why this intake (`bot.intake: auto` resolved), and the websocket intake's socket.
    intake_reason: str | None
    websocket_state: str | None
    websocket_connected_since: str | None
    websocket_last_frame_at: str | None
    websocket_reconnects: int
    websocket_devices: int | None
    events_backfilled: int
    last_error_at: str | datetime | None
    # Polling intake only.
    last_poll_at: str | datetime | None
    spaces_watched: int | None
    api_budget_used: int | None
    api_budget_per_minute: int | None
    webhook_reactivated_at: str | None
    # The intake's health as the healer sees it: up, down (webhook inactive or missing) or
    # silent (active at Webex, yet messages reach only the reconciliation; bot.silence).
    intake_state: str | None
    intake_state_reason: str | None
    intake_state_since: str | None
    intake_missed: int
    # Messages that met the dead token, answered after the identity's re-login.
    waiting_for_relogin: int


@dataclass(frozen=True, slots=True)
class Panel:
    """The runtime's parts the views use; one per app, kept in ``app.extensions``."""

    config: PanelConfig
    runtime: Runtime
    admins: AdminStore
    metrics: PanelMetrics
    scheduler_alive: Callable[[], bool] | None
    bot_status: Callable[[], BotFacts] | None

    def bot_facts(self) -> BotFacts | None:
        """Return what `bot_status()` says, or None without a bot (or when it fails)."""
        if self.bot_status is None:
            return None
        try:
            return self.bot_status()
        except Exception:  # noqa: BLE001 - a broken bot must not take the dashboard down
            log.exception("bot_status() failed")
            return None

    def scheduler_running(self) -> bool | None:
        """Return whether the scheduler runs, or None when this process has none."""
        if self.scheduler_alive is None:
            return None
        try:
            return bool(self.scheduler_alive())
        except Exception:  # noqa: BLE001 - a failing probe means "not running"
            log.exception("scheduler_alive() failed")
            return False

    @property
    def store(self) -> TokenStore:
        """The token store."""
        return self.runtime.store

    @property
    def oauth(self) -> WebexOAuthClient:
        """The Webex OAuth client."""
        return self.runtime.oauth

    @property
    def tokens(self) -> TokenService:
        """The token service."""
        return self.runtime.tokens

    @property
    def clock(self) -> Clock:
        """The runtime's clock."""
        return self.runtime.clock


def panel() -> Panel:
    """Return the `Panel` of the current app.

    Raises:
        RuntimeError: The app was not built by `admin.create_app`.
    """
    the_panel = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(the_panel, Panel):
        raise RuntimeError("this Flask app has no tokenbot panel: build it with create_app")
    return the_panel
