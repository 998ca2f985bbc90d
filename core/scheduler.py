"""The background refresh sweep on an APScheduler 3.x `BackgroundScheduler`.

The database, not the job store, knows what is due; the scheduler only calls `run_sweep` every
`interval_seconds` (one in-memory interval job). It is an optimisation and a keep-alive: the
on-demand path (`TokenService`) keeps tokens valid even when it is not running. Nothing starts at
import time: the process that wants a scheduler builds one and calls `start()`.

APScheduler's defaults would silently skip a sweep delayed by more than 1 s (misfire grace), so
the job uses `misfire_grace_time` = interval, `coalesce=True`, `max_instances=1`, and listeners
count (and log) errors, misses and overlaps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.events import JobEvent
from apscheduler.events import JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tokenbot.core.clock import Clock
from tokenbot.core.clock import SystemClock

if TYPE_CHECKING:
    from tokenbot.core.sweep import SweepReport

__all__ = ["RefreshScheduler"]

log = logging.getLogger(__name__)

JOB_ID = "tokenbot-refresh-sweep"


class RefreshScheduler:
    """Run the refresh sweep every `interval_seconds` on a background thread.

    Args:
        run_sweep: The sweep, e.g. ``functools.partial(sweep, store, client, ...)``.
        interval_seconds: Seconds between two sweeps (the first runs at `start()`).
        clock: Tells the time of each run (for `last_run_at` and `alive()`).
        misfire_grace_seconds: How late a run may start before APScheduler skips it; at least
            the interval.

    Attributes:
        counters: ``runs``, ``errors``, ``missed`` and ``max_instances`` since construction.
        last_report: The report of the last successful sweep, or None.
        last_run_at: When the last sweep (successful or not) finished, or None.
        last_error: The class name and message of the last failed sweep, or None.
    """

    def __init__(
        self,
        run_sweep: Callable[[], SweepReport],
        *,
        interval_seconds: float = 60,
        clock: Clock | None = None,
        misfire_grace_seconds: float | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        grace = interval_seconds if misfire_grace_seconds is None else misfire_grace_seconds
        if grace < interval_seconds:
            raise ValueError("misfire_grace_seconds must be at least interval_seconds")
        self._run_sweep = run_sweep
        self.interval_seconds = interval_seconds
        self.misfire_grace_seconds = grace
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._counter_lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self.counters: dict[str, int] = {"runs": 0, "errors": 0, "missed": 0, "max_instances": 0}
        self.last_report: SweepReport | None = None
        self.last_run_at: datetime | None = None
        self.last_error: str | None = None
        self.started_at: datetime | None = None

    def start(self) -> None:
        """Start the background thread; the first sweep runs at once (catch-up after a restart).

        Raises:
            RuntimeError: The scheduler is already running.
        """
        with self._lock:
            if self._scheduler is not None:
                raise RuntimeError("the refresh scheduler is already running")
            scheduler = BackgroundScheduler(
                jobstores={"default": MemoryJobStore()},
                # One worker: sweeps never overlap, and max_instances=1 says so to APScheduler.
                executors={"default": ThreadPoolExecutor(max_workers=1)},
                timezone=UTC,
            )
            scheduler.add_listener(
                self._on_event,
                EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES,
            )
            scheduler.add_job(
                self._run,
                trigger=IntervalTrigger(seconds=self.interval_seconds, timezone=UTC),
                id=JOB_ID,
                name="refresh sweep",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(1, int(round(self.misfire_grace_seconds))),
                next_run_time=datetime.now(UTC),
                replace_existing=True,
            )
            scheduler.start()
            self._scheduler = scheduler
            self.started_at = self._clock.now()
        log.info("refresh scheduler started (every %g s)", self.interval_seconds)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the scheduler; with `wait`, also wait for a running sweep and its thread."""
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.shutdown(wait=wait)
        log.info("refresh scheduler stopped")

    def alive(self) -> bool:
        """Tell whether the scheduler runs and its sweep is not overdue (for readiness checks)."""
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running or scheduler.get_job(JOB_ID) is None:
            return False
        reference = self.last_run_at or self.started_at
        if reference is None:
            return True
        # A sweep that has not finished within interval + grace + one more interval is stuck.
        allowance = timedelta(seconds=2 * self.interval_seconds + self.misfire_grace_seconds)
        return self._clock.now() - reference <= allowance

    @property
    def running(self) -> bool:
        """Tell whether `start()` was called and `shutdown()` was not."""
        return self._scheduler is not None

    def _run(self) -> None:
        try:
            report = self._run_sweep()
        finally:
            self.last_run_at = self._clock.now()
        self.last_report = report

    def _count(self, *names: str) -> None:
        # Listeners run on the scheduler thread and on the executor's thread.
        with self._counter_lock:
            for name in names:
                self.counters[name] += 1

    def _on_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_EXECUTED:
            self._count("runs")
            self.last_error = None
        elif event.code == EVENT_JOB_ERROR:
            self._count("runs", "errors")
            exc: Any = event.exception if isinstance(event, JobExecutionEvent) else None
            self.last_error = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown"
            # The exception's own text comes from our error hierarchy, which never holds secrets.
            log.error("refresh sweep failed (%s); the next run is scheduled", self.last_error)
        elif event.code == EVENT_JOB_MISSED:
            self._count("missed")
            log.warning("refresh sweep missed its run time (the process was busy or asleep)")
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self._count("max_instances")
            log.warning("refresh sweep skipped: the previous sweep is still running")
