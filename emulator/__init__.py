"""A local stand-in for webexapis.com: OAuth, REST, webhooks, a control API and a chat page.

It imports nothing of ours, so it cannot share our bugs. Start it with `EmulatorServer`
(tests, CLI, demo) or wrap its state with `create_app` for any WSGI server.
"""

from __future__ import annotations

from tokenbot.emulator.app import create_app
from tokenbot.emulator.seed import SEED_CLIENT_ID
from tokenbot.emulator.seed import SeedError
from tokenbot.emulator.server import EmulatorServer
from tokenbot.emulator.settings import SettingError
from tokenbot.emulator.settings import Settings
from tokenbot.emulator.state import EmulatorState

__all__ = [
    "SEED_CLIENT_ID",
    "EmulatorServer",
    "EmulatorState",
    "SeedError",
    "SettingError",
    "Settings",
    "create_app",
]
