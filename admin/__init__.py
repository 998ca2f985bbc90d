"""The Flask admin panel: admin login, "Connect Webex", token dashboard, JSON API.

`create_app(settings, runtime)` builds it around a runtime that already exists; `PanelMetrics`
is the metrics registry the wiring shares with the refresher and the bot.
"""

from __future__ import annotations

from tokenbot.admin.app import create_app
from tokenbot.admin.metrics import PanelMetrics

__all__ = ["PanelMetrics", "create_app"]
