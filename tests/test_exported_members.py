"""Each package's public surface: the names it exports, pinned, and imported only when used.

Changing a list here is changing the public API: other packages and plugins import these.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

EXPORTED = {
    "tokenbot": [],
    "tokenbot.core": [
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
    ],
    "tokenbot.admin": ["PanelMetrics", "create_app"],
    "tokenbot.bot": [
        "Arg",
        "Bot",
        "BotOptions",
        "CommandContext",
        "Router",
        "create_bot",
        "create_webhook_app",
        "webhook_blueprint",
    ],
    "tokenbot.emulator": [
        "SEED_CLIENT_ID",
        "EmulatorServer",
        "EmulatorState",
        "SeedError",
        "create_app",
    ],
}

# What importing one module must leave unimported: the heavy dependencies come with the
# modules that use them, never with a package's __init__.
STAYS_UNIMPORTED = {
    "tokenbot.core.errors": ["sqlalchemy", "authlib", "cryptography", "argon2", "yaml"],
    "tokenbot.core": ["sqlalchemy", "authlib", "cryptography", "apscheduler"],
    "tokenbot.admin": ["flask", "sqlalchemy"],
    "tokenbot.bot": ["flask", "webexpythonsdk", "webexteamssdk", "sqlalchemy"],
    "tokenbot.emulator": ["flask", "werkzeug"],
}


@pytest.mark.parametrize("package", sorted(EXPORTED))
def test_exported_names_are_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(EXPORTED[package])


@pytest.mark.parametrize("package", sorted(EXPORTED))
def test_every_exported_name_resolves_from_its_home(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        if home is not None:  # a constant has no __module__
            assert home.startswith(package + "."), (name, home)
        assert name in dir(module)


@pytest.mark.parametrize("package", sorted(EXPORTED))
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no attribute 'not_a_member'"):
        module.not_a_member  # noqa: B018 - the lookup is the test


@pytest.mark.parametrize("target", sorted(STAYS_UNIMPORTED))
def test_importing_is_lazy(target: str) -> None:
    # A fresh interpreter: this one has imported everything already.
    code = (
        "import json, sys; import " + target + "; "
        "print(json.dumps(sorted(name.split('.')[0] for name in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert loaded.isdisjoint(STAYS_UNIMPORTED[target]), loaded & set(STAYS_UNIMPORTED[target])
