"""A background thread that runs one function at a fixed pause until it is stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Repeater"]

log = logging.getLogger(__name__)


class Repeater:
    """Run `function` on a daemon thread, then again after each `interval_seconds` pause.

    Args:
        name: The thread's name (shows in stack dumps and logs).
        interval_seconds: The pause between two runs.
        function: What to run; it should handle its own errors (an escaping one is logged and
            the loop goes on).
    """

    def __init__(self, name: str, interval_seconds: float, function: Callable[[], object]) -> None:
        self.name = name
        self.interval_seconds = interval_seconds
        self._function = function
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Tell whether the thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, pause_first: bool = False) -> None:
        """Start the thread (no-op when it runs); the first run is immediate unless paused."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(pause_first,), name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current run and wait for the thread (at most `timeout`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, pause_first: bool) -> None:
        if pause_first and self._stop.wait(self.interval_seconds):
            return
        while not self._stop.is_set():
            try:
                self._function()
            except Exception:  # the loop must outlive any one round; the cause is logged
                log.exception("%s: a round failed", self.name)
            self._stop.wait(self.interval_seconds)
