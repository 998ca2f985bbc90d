"""The Flask admin panel: admin login, "Connect Webex", token dashboard, JSON API."""

from __future__ import annotations

__all__: list[str] = []
