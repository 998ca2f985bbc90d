"""What every blueprint needs from the app: the runtime's parts, resolved once in create_app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from tokenbot.admin.metrics import PanelMetrics
from tokenbot.admin.security import cookie_must_be_secure
from tokenbot.core.admins import AdminStore
from tokenbot.core.settings import Settings

__all__ = ["EXTENSION_KEY", "Panel", "PanelConfig", "panel"]

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


@dataclass(frozen=True, slots=True)
class Panel:
    """The runtime's parts the views use; one per app, kept in ``app.extensions``."""

    config: PanelConfig
    runtime: Any
    admins: AdminStore
    metrics: PanelMetrics
    scheduler_alive: Callable[[], bool] | None
    bot_status: Callable[[], Mapping[str, Any]] | None

    def bot_facts(self) -> Mapping[str, Any] | None:
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
    def store(self) -> Any:
        """The token store (core.store.TokenStore)."""
        return self.runtime.store

    @property
    def oauth(self) -> Any:
        """The Webex OAuth client (core.oauth.WebexOAuthClient)."""
        return self.runtime.oauth

    @property
    def tokens(self) -> Any:
        """The token service (core.service.TokenService)."""
        return self.runtime.tokens

    @property
    def clock(self) -> Any:
        """The runtime's clock."""
        return self.runtime.clock


def panel() -> Panel:
    """Return the `Panel` of the current app."""
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
