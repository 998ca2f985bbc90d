"""The emulator's clock: real time plus an offset that tests move forward."""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta


class EmulatorClock:
    """Tell the emulator's time; every token and code expiry reads it."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the emulator's current time (aware, UTC)."""
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        """Return to real time."""
        with self._lock:
            self._offset = timedelta()
