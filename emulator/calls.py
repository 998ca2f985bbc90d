"""The call log: every request the emulator answered, for tests to count."""

from __future__ import annotations

import threading
from typing import Any

from flask import request

CALL_KEY = "webex_emulator.call"


def note_call(**fields: Any) -> None:
    """Add fields to this request's call-log entry (never secrets, codes or tokens)."""
    request.environ.setdefault(CALL_KEY, {}).update(fields)


class CallLog:
    """A thread-safe, append-only list of calls (cleared by reset)."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        """Append one call."""
        with self._lock:
            self._items.append(entry)

    def items(self, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        """Return a copy of the calls, filtered by exact path and method when given."""
        with self._lock:
            items = list(self._items)
        if path is not None:
            items = [c for c in items if c["path"] == path]
        if method is not None:
            items = [c for c in items if c["method"] == method.upper()]
        return [dict(c) for c in items]

    def clear(self) -> None:
        """Forget every call."""
        with self._lock:
            self._items.clear()
