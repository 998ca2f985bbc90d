"""Reminders for `remind 10m text`: one thread, a heap of due times, bounded and stoppable.

Reminders live in memory: a restart forgets pending ones (said in the command's reply help).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

__all__ = ["Reminder", "Reminders"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True, slots=True)
class Reminder:
    """A reminder due at `due` (monotonic seconds)."""

    due: float
    sequence: int
    room_id: str = field(compare=False)
    parent_id: str | None = field(compare=False)
    text: str = field(compare=False)
    requested_by: str = field(compare=False)


class Reminders:
    """Deliver reminders when due, on one thread.

    Args:
        deliver: Called with each due reminder (posts it); errors are logged.
        max_pending: The most reminders waiting at once.
        max_per_sender: The most reminders one sender may have waiting (so one person cannot
            take every place).
        monotonic: Injected for tests.
    """

    def __init__(
        self,
        deliver: Callable[[Reminder], None],
        *,
        max_pending: int = 100,
        max_per_sender: int = 5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._deliver = deliver
        self._max_pending = max_pending
        self._max_per_sender = max_per_sender
        self._monotonic = monotonic
        self._heap: list[Reminder] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the delivery thread (once)."""
        with self._condition:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="bot-reminders", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; pending reminders are dropped."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def add(
        self, delay: float, *, room_id: str, parent_id: str | None, text: str, requested_by: str
    ) -> Reminder:
        """Schedule a reminder `delay` seconds from now.

        Raises:
            OverflowError: Too many reminders are pending.
        """
        with self._condition:
            if len(self._heap) >= self._max_pending:
                raise OverflowError(f"{self._max_pending} reminders are already pending")
            mine = sum(1 for pending in self._heap if pending.requested_by == requested_by)
            if mine >= self._max_per_sender:
                raise OverflowError(
                    f"you already have {self._max_per_sender} reminders pending; "
                    "wait for one to go off"
                )
            reminder = Reminder(
                due=self._monotonic() + delay,
                sequence=next(self._sequence),
                room_id=room_id,
                parent_id=parent_id,
                text=text,
                requested_by=requested_by,
            )
            heapq.heappush(self._heap, reminder)
            self._condition.notify_all()
            return reminder

    def pending(self) -> int:
        """Return how many reminders wait."""
        with self._condition:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._condition:
                if self._stopping:
                    return
                due: list[Reminder] = []
                now = self._monotonic()
                while self._heap and self._heap[0].due <= now:
                    due.append(heapq.heappop(self._heap))
                if not due:
                    wait = self._heap[0].due - now if self._heap else None
                    # Waits end on a new reminder, on stop, or when the first one is due.
                    self._condition.wait(timeout=min(wait, 60.0) if wait is not None else 60.0)
                    continue
            for reminder in due:
                try:
                    self._deliver(reminder)
                except Exception:
                    log.exception("a reminder could not be delivered")
