"""The chat side: SDK client on the live token, event intake, command router."""

from __future__ import annotations

__all__: list[str] = []
