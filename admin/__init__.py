"""The Flask admin panel: admin login, "Connect Webex", token dashboard, JSON API.

`create_app(settings, runtime)` builds it around a runtime that already exists; `PanelMetrics`
is the metrics registry the wiring shares with the refresher and the bot. Both are imported on
first use, so importing the package does not import Flask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenbot.admin.app import create_app
    from tokenbot.admin.metrics import PanelMetrics

__all__ = [
    "PanelMetrics",
    "create_app",
]

_EXPORTS: dict[str, str] = {
    "PanelMetrics": "tokenbot.admin.metrics",
    "create_app": "tokenbot.admin.app",
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
