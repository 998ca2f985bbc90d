"""The `tokenbot` command line and the wiring that puts the parts into processes."""

from __future__ import annotations

__all__: list[str] = []
