"""The framework-free heart: config, database, encryption, OAuth client, token store, refresher.

Nothing here imports Flask, the Webex SDK, or another of our packages. The names below are what
the other packages use; each is imported on first use, so `import tokenbot.core.errors` (or
any one module) does not pull in SQLAlchemy, authlib or cryptography.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenbot.core.admins import AdminPrincipal
    from tokenbot.core.admins import AdminStore
    from tokenbot.core.botstate import BotStateStore
    from tokenbot.core.botstate import RoomCursor
    from tokenbot.core.clock import Clock
    from tokenbot.core.config import Settings
    from tokenbot.core.config import load_settings
    from tokenbot.core.crypto import TokenCipher
    from tokenbot.core.db import Database
    from tokenbot.core.db import upgrade
    from tokenbot.core.durations import format_duration
    from tokenbot.core.errors import AccountNotFound
    from tokenbot.core.errors import CommandArgumentError
    from tokenbot.core.errors import ConfigError
    from tokenbot.core.errors import LoginStateInvalid
    from tokenbot.core.errors import NeedsReauth
    from tokenbot.core.errors import OAuthError
    from tokenbot.core.errors import RateLimited
    from tokenbot.core.errors import StoreError
    from tokenbot.core.errors import TokenbotError
    from tokenbot.core.errors import WebexApiError
    from tokenbot.core.hashing import sha256_hex
    from tokenbot.core.logs import configure_logging
    from tokenbot.core.logs import redact
    from tokenbot.core.loopback import is_loopback_host
    from tokenbot.core.models import EventKind
    from tokenbot.core.records import AccountView
    from tokenbot.core.refresher import refresh_counters
    from tokenbot.core.runtime import Runtime
    from tokenbot.core.runtime import build_runtime
    from tokenbot.core.scheduler import RefreshScheduler
    from tokenbot.core.store import TokenStore
    from tokenbot.core.token_service import TokenService

__all__ = [
    "AccountNotFound",
    "AccountView",
    "AdminPrincipal",
    "AdminStore",
    "BotStateStore",
    "Clock",
    "CommandArgumentError",
    "ConfigError",
    "Database",
    "EventKind",
    "LoginStateInvalid",
    "NeedsReauth",
    "OAuthError",
    "RateLimited",
    "RefreshScheduler",
    "RoomCursor",
    "Runtime",
    "Settings",
    "StoreError",
    "TokenCipher",
    "TokenService",
    "TokenStore",
    "TokenbotError",
    "WebexApiError",
    "build_runtime",
    "configure_logging",
    "format_duration",
    "is_loopback_host",
    "load_settings",
    "redact",
    "refresh_counters",
    "sha256_hex",
    "upgrade",
]

_EXPORTS: dict[str, str] = {
    "AccountNotFound": "tokenbot.core.errors",
    "AccountView": "tokenbot.core.records",
    "AdminPrincipal": "tokenbot.core.admins",
    "AdminStore": "tokenbot.core.admins",
    "BotStateStore": "tokenbot.core.botstate",
    "Clock": "tokenbot.core.clock",
    "CommandArgumentError": "tokenbot.core.errors",
    "ConfigError": "tokenbot.core.errors",
    "Database": "tokenbot.core.db",
    "EventKind": "tokenbot.core.models",
    "LoginStateInvalid": "tokenbot.core.errors",
    "NeedsReauth": "tokenbot.core.errors",
    "OAuthError": "tokenbot.core.errors",
    "RateLimited": "tokenbot.core.errors",
    "RefreshScheduler": "tokenbot.core.scheduler",
    "RoomCursor": "tokenbot.core.botstate",
    "Runtime": "tokenbot.core.runtime",
    "Settings": "tokenbot.core.config",
    "StoreError": "tokenbot.core.errors",
    "TokenCipher": "tokenbot.core.crypto",
    "TokenService": "tokenbot.core.token_service",
    "TokenStore": "tokenbot.core.store",
    "TokenbotError": "tokenbot.core.errors",
    "WebexApiError": "tokenbot.core.errors",
    "build_runtime": "tokenbot.core.runtime",
    "configure_logging": "tokenbot.core.logs",
    "format_duration": "tokenbot.core.durations",
    "is_loopback_host": "tokenbot.core.loopback",
    "load_settings": "tokenbot.core.config",
    "redact": "tokenbot.core.logs",
    "refresh_counters": "tokenbot.core.refresher",
    "sha256_hex": "tokenbot.core.hashing",
    "upgrade": "tokenbot.core.db",
}


def __getattr__(name: str) -> object:
    """Import `name` from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """List the module's names, the ones not imported yet included."""
    return sorted(set(globals()) | set(__all__))
