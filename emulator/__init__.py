"""A local stand-in for webexapis.com: OAuth, REST, webhooks, a control API and a chat page.

It imports nothing of ours, so it cannot share our bugs. Start it with `EmulatorServer`
(tests, CLI, demo) or wrap its state with `create_app` for any WSGI server. The names are
imported on first use, so importing the package does not import Flask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenbot.emulator.app import create_app
    from tokenbot.emulator.seed import SEED_CLIENT_ID
    from tokenbot.emulator.seed import SeedError
    from tokenbot.emulator.server import EmulatorServer
    from tokenbot.emulator.state import EmulatorState

__all__ = [
    "SEED_CLIENT_ID",
    "EmulatorServer",
    "EmulatorState",
    "SeedError",
    "create_app",
]

_EXPORTS: dict[str, str] = {
    "SEED_CLIENT_ID": "tokenbot.emulator.seed",
    "EmulatorServer": "tokenbot.emulator.server",
    "EmulatorState": "tokenbot.emulator.state",
    "SeedError": "tokenbot.emulator.seed",
    "create_app": "tokenbot.emulator.app",
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
