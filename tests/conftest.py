"""Shared test setup: fixtures live in plugins, one per concern."""

from __future__ import annotations

pytest_plugins = [
    "tests.plugins.netguard",
    "tests.plugins.databases",
    "tests.plugins.emulator",
    "tests.plugins.tokens",
    "tests.plugins.panel",
    "tests.plugins.bot",
]
