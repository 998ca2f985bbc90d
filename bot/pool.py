"""A bounded worker pool: a fixed number of threads and a queue that refuses when full.

`ThreadPoolExecutor`'s queue grows without bound; under a flood the bot would rather answer
503 (Webex and the poller retry later) than run out of memory or answer minutes late. Urgent
calls (the user's own commands) jump the queue and have room of their own: a flood of other
people's messages neither delays nor refuses them.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerPool"]

log = logging.getLogger(__name__)
# How often an idle worker checks whether the pool is stopping.
_IDLE_CHECK_SECONDS = 0.05


class WorkerPool:
    """Run submitted calls on `workers` threads, with at most `queue_size` waiting.

    Args:
        workers: Number of threads.
        queue_size: Calls that may wait for a thread; `submit` refuses beyond.
        name: Thread name prefix (shows in logs and thread dumps).
    """

    def __init__(self, workers: int, queue_size: int, *, name: str = "bot-worker") -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("workers and queue_size must be at least 1")
        self._workers = workers
        self._queue_size = queue_size
        # (0 urgent / 1 normal, arrival order, call, args): urgent first, else first come.
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[..., Any], tuple[Any, ...]]]
        self._queue = queue.PriorityQueue()
        self._sequence = itertools.count()
        self._waiting = [0, 0]  # urgent, normal
        self._name = name
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._busy = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Return whether the threads are started and not stopping."""
        return bool(self._threads) and not self._stopping.is_set()

    def start(self) -> None:
        """Start the threads (once)."""
        if self._threads:
            return
        self._stopping.clear()
        for index in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"{self._name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, function: Callable[..., Any], *args: Any, urgent: bool = False) -> bool:
        """Queue `function(*args)`; False when its queue is full or the pool is stopped.

        Urgent calls run before any normal one waiting, and `queue_size` of them may wait
        besides the normal ones.
        """
        if self._stopping.is_set():
            return False
        rank = 0 if urgent else 1
        with self._lock:
            if self._waiting[rank] >= self._queue_size:
                return False
            self._waiting[rank] += 1
            self._queue.put_nowait((rank, next(self._sequence), function, args))
        return True

    def pending(self) -> int:
        """Return how many calls wait or run."""
        with self._lock:
            return self._queue.qsize() + self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing waits or runs; False when `timeout` passed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.01)
        return self.pending() == 0

    def stop(self, timeout: float = 10.0) -> None:
        """Let queued calls finish, then stop the threads: all within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        if self._threads:
            self.wait_idle(timeout)
        self._stopping.set()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                rank, _, function, args = self._queue.get(timeout=_IDLE_CHECK_SECONDS)
            except queue.Empty:
                continue
            with self._lock:
                self._waiting[rank] -= 1
                self._busy += 1
            try:
                function(*args)
            except Exception:  # the pool must survive any task; the bot logs its own errors
                log.exception("a bot task failed outside the error handler")
            finally:
                with self._lock:
                    self._busy -= 1
                self._queue.task_done()
