"""The typed settings of a tokenbot process: frozen sections, and `Secret` for what must not print.

`core.config.load_settings` builds a `Settings`; everything else only reads one. Field metadata
carries each key's rule (range, choices, URL, or the environment variable a secret comes from),
which the loader applies and `config.yaml` documents.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from tokenbot.core.crypto import TokenCipher
from tokenbot.core.logs import FORMATS
from tokenbot.core.logs import LEVELS
from tokenbot.core.logs import fingerprint

__all__ = [
    "DEFAULT_SCOPES",
    "ENCRYPTION_KEYS_ENV",
    "SECTIONS",
    "BotSettings",
    "DatabaseSettings",
    "EmulatorSettings",
    "LoggingSettings",
    "PanelSettings",
    "RefreshSettings",
    "Secret",
    "Settings",
    "WebexSettings",
    "hide_password",
]

ENCRYPTION_KEYS_ENV = "TOKENBOT_ENCRYPTION_KEYS"
DEFAULT_SCOPES = (
    "spark:people_read",
    "spark:rooms_read",
    "spark:messages_read",
    "spark:messages_write",
    "spark:memberships_read",
)


class Secret:
    """A secret string that prints as ``**********``; `reveal` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value: pass it straight to where it is used, never to a log."""
        return self._value

    @property
    def fingerprint(self) -> str:
        """First 8 hex digits of the value's SHA-256, safe to show."""
        return fingerprint(self._value)

    def __repr__(self) -> str:
        return "'**********'"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return secrets.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self.fingerprint))


def _num(default: float, low: float, high: float) -> Any:
    return field(default=default, metadata={"range": (low, high)})


def _choice(default: str, *choices: str) -> Any:
    return field(default=default, metadata={"choices": choices})


def _url(default: str | None) -> Any:
    return field(default=default, metadata={"url": True})


def _env(name: str) -> Any:
    # Filled from the environment only; the YAML key is refused.
    return field(default=None, metadata={"env": name})


@dataclass(frozen=True, slots=True)
class WebexSettings:
    """Where Webex is and who we are to it."""

    api_base_url: str = _url("https://webexapis.com/v1/")
    authorize_url: str = _url(None)  # None in YAML: api_base_url + "authorize"
    token_url: str = _url(None)  # None in YAML: api_base_url + "access_token"
    redirect_uri: str = _url("http://127.0.0.1:2000/oauth/callback")
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    timeout_seconds: float = _num(15, 1, 300)
    client_id: Secret = _env("WEBEX_CLIENT_ID")
    client_secret: Secret = _env("WEBEX_CLIENT_SECRET")


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """Which database; `url` may carry a password, so it never shows in a repr."""

    url: str = field(default="sqlite:///data/tokenbot.sqlite3", repr=False)
    busy_timeout_seconds: float = _num(15, 1, 600)

    @property
    def is_sqlite(self) -> bool:
        """Tell whether `url` names a SQLite database."""
        return self.url.startswith("sqlite")

    @property
    def display_url(self) -> str:
        """The URL with any password replaced by ``***``."""
        return hide_password(self.url)


@dataclass(frozen=True, slots=True)
class RefreshSettings:
    """When tokens are refreshed and how failures back off (core.policy.RefreshPolicy)."""

    margin_seconds: int = _num(900, 0, 7 * 86400)
    sweep_interval_seconds: int = _num(60, 1, 3600)
    keepalive_hours: float = _num(24, 0.1, 24 * 60)
    refresh_token_warning_days: float = _num(14, 0, 365)
    lease_seconds: int = _num(60, 5, 3600)
    max_concurrency: int = _num(8, 1, 64)
    backoff_base_seconds: float = _num(30, 0.1, 86400)
    backoff_max_seconds: float = _num(3600, 0.1, 7 * 86400)
    min_token_validity_seconds: int = _num(60, 0, 86400)
    expiry_skew_seconds: int = _num(30, 30, 3600)


@dataclass(frozen=True, slots=True)
class PanelSettings:
    """The admin panel's server and sessions."""

    host: str = "127.0.0.1"
    port: int = _num(2000, 1, 65535)
    public_url: str | None = _url(None)
    session_idle_minutes: int = _num(30, 1, 24 * 60)
    session_absolute_hours: int = _num(12, 1, 30 * 24)
    trusted_proxies: int = _num(0, 0, 5)
    trusted_proxy_addresses: tuple[str, ...] = ()  # IPs or CIDR networks of those proxies
    allowed_hosts: tuple[str, ...] = ()  # empty: panel.public_url's host and loopback names
    request_timeout_seconds: int = _num(10, 1, 600)  # whole request: headers and body
    connection_limit: int = _num(1000, 16, 60_000)
    secret_key: Secret = _env("TOKENBOT_SECRET_KEY")


@dataclass(frozen=True, slots=True)
class BotSettings:
    """The chat bot: how messages come in, who may use it, how much work runs at once."""

    enabled: bool = True
    intake: str = _choice("polling", "polling", "webhook")
    public_url: str | None = _url(None)
    prefix: str = "/"
    plugins: tuple[str, ...] = ()
    allowed_emails: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    allowed_spaces: tuple[str, ...] = ()
    poll_interval_seconds: float = _num(5, 1, 3600)
    workers: int = _num(4, 1, 64)
    queue_size: int = _num(100, 1, 100_000)
    webhook_secret: Secret | None = _env("TOKENBOT_WEBHOOK_SECRET")
    poll_rooms: int = _num(20, 1, 1000)
    poll_api_budget_per_minute: int = _num(120, 1, 100_000)
    max_body_bytes: int = _num(262_144, 1024, 1_048_576)
    max_event_age_seconds: float = _num(600, 0, 86_400)
    file_max_bytes: int = _num(10_485_760, 1024, 104_857_600)
    file_types: tuple[str, ...] = ()
    file_fetch_budget_seconds: float = _num(60, 1, 600)
    file_allow_unscannable: bool = False
    card_input_max_bytes: int = _num(4096, 64, 16_384)


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """Log level and line format (core.logs.configure_logging)."""

    level: str = _choice("INFO", *LEVELS)
    format: str = _choice("text", *FORMATS)


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    """Where the demo runs the Webex emulator."""

    host: str = "127.0.0.1"
    port: int = _num(2001, 1, 65535)


SECTIONS: dict[str, type[Any]] = {
    "webex": WebexSettings,
    "database": DatabaseSettings,
    "refresh": RefreshSettings,
    "panel": PanelSettings,
    "bot": BotSettings,
    "logging": LoggingSettings,
    "emulator": EmulatorSettings,
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of a tokenbot process; build it with `load_settings`."""

    mode: str
    webex: WebexSettings
    database: DatabaseSettings
    refresh: RefreshSettings
    panel: PanelSettings
    bot: BotSettings
    logging: LoggingSettings
    emulator: EmulatorSettings
    encryption_keys: Secret
    config_file: Path | None = None
    generated: tuple[str, ...] = ()  # environment variables generated for this demo process
    warnings: tuple[str, ...] = ()

    @property
    def demo(self) -> bool:
        """Tell whether this is the demo (relaxed, generated secrets) rather than production."""
        return self.mode == "demo"

    def cipher(self) -> TokenCipher:
        """Return the `TokenCipher` for `TOKENBOT_ENCRYPTION_KEYS` (checked at load time)."""
        return TokenCipher.from_spec(self.encryption_keys.reveal())

    def masked(self) -> dict[str, Any]:
        """Return every setting as plain data, secrets shown only as set/missing + fingerprint."""
        out: dict[str, Any] = {
            "mode": self.mode,
            "config_file": str(self.config_file) if self.config_file else None,
        }
        for name in SECTIONS:
            section = getattr(self, name)
            values: dict[str, Any] = {}
            for item in dataclasses.fields(section):
                value = getattr(section, item.name)
                if "env" in item.metadata:
                    values[item.name] = self._mask(item.metadata["env"], value)
                elif isinstance(value, tuple):
                    values[item.name] = list(value)
                else:
                    values[item.name] = value
            out[name] = values
        out["database"]["url"] = self.database.display_url
        out["encryption_keys"] = self._mask(ENCRYPTION_KEYS_ENV, self.encryption_keys)
        out["encryption_key_ids"] = list(self.cipher().key_ids)
        out["generated"] = list(self.generated)
        out["warnings"] = list(self.warnings)
        return out

    def _mask(self, env_name: str, value: Secret | None) -> str:
        if value is None:
            return "missing"
        state = "generated" if env_name in self.generated else "set"
        return f"{state} (sha256:{value.fingerprint})"


def hide_password(url: str) -> str:
    """Return `url` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
