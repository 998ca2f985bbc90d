"""The bot's books: outcome counters and the last event time, batched into the bot state.

Every message and command bumps a counter; writing each bump would make every message a
write transaction, so counts are kept in memory and flushed at most once a second (and on
stop). Errors go to the bot state at once: the panel shows the last one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import Clock

__all__ = ["Bookkeeper", "ErrorHook"]

log = logging.getLogger(__name__)
# Counters reach the database at most this often (each flush is a write transaction).
_FLUSH_SECONDS = 1.0


class ErrorHook(Protocol):
    """The bot's one error hook: where every part reports a failure it survived."""

    def __call__(self, text: str, error_id: str | None = None) -> None:
        """Keep `text` (and the error id shown to the user, if any) for the panel."""
        ...


class Bookkeeper:
    """Count outcomes and keep the last event time and errors in the bot state.

    Args:
        state: Where the books are kept (shared by every instance).
        clock: Stamps the last event time.
        monotonic: Paces the flushes (tests pass a fake).
    """

    def __init__(
        self,
        state: BotStateStore,
        clock: Clock,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = state
        self._clock = clock
        self._monotonic = monotonic
        self._counts: Counter[str] = Counter()
        self._last_event_at: str | None = None
        self._flushed_at = monotonic()
        self._lock = threading.Lock()

    def count(self, family: str, *, outcome: str) -> None:
        """Count one `family` event (`messages`, `commands`) with its outcome."""
        with self._lock:
            self._counts[f"{family}_{outcome}"] += 1
            self._counts[f"{family}_total"] += 1
            self._last_event_at = self._clock.now().isoformat()
        self.flush()

    def flush(self, *, force: bool = False) -> None:
        """Write counters and the last event time to the database (at most once a second)."""
        with self._lock:
            if not force and self._monotonic() - self._flushed_at < _FLUSH_SECONDS:
                return
            counts, self._counts = self._counts, Counter()
            last_event_at, self._last_event_at = self._last_event_at, None
            self._flushed_at = self._monotonic()
        try:
            if counts:
                self._state.add_counters(counts)
            if last_event_at:
                self._state.set_values({"last_event_at": last_event_at})
        except Exception:
            log.exception("could not store the bot's counters")
            with self._lock:
                self._counts.update(counts)

    def record_error(self, text: str, error_id: str | None = None) -> None:
        """Keep an error in the bot state (for the panel); never raises."""
        try:
            self._state.record_error(text, error_id=error_id)
        except Exception:
            log.exception("could not record the bot error in the database")
