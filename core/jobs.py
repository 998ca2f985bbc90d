"""A small periodic job on its own APScheduler `BackgroundScheduler` (notifications, probes).

Same choices as the refresh scheduler (core.scheduler): one worker so runs never overlap,
`coalesce`, `max_instances=1`, a misfire grace of one interval (APScheduler's default of 1 s
would silently skip a late run), and errors logged instead of lost. `jitter_seconds` spreads
the runs of several instances so they do not all call Webex in the same second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from apscheduler.events import EVENT_JOB_ERROR
from apscheduler.events import JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

__all__ = ["IntervalJob"]

log = logging.getLogger(__name__)


class IntervalJob:
    """Call `run` every `interval_seconds` on a background thread.

    Args:
        name: Names the job in logs.
        run: What to call; its exceptions are logged and the next run goes ahead.
        interval_seconds: Seconds between runs.
        jitter_seconds: Each run starts up to this much later, at random.
        first_delay_seconds: When the first run starts after `start()`.
    """

    def __init__(
        self,
        name: str,
        run: Callable[[], object],
        *,
        interval_seconds: float,
        jitter_seconds: float = 0,
        first_delay_seconds: float = 0,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self.name = name
        self._run = run
        self.interval_seconds = interval_seconds
        self.jitter_seconds = jitter_seconds
        self.first_delay_seconds = first_delay_seconds
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self.errors = 0

    def start(self) -> None:
        """Start the background thread.

        Raises:
            RuntimeError: The job already runs.
        """
        with self._lock:
            if self._scheduler is not None:
                raise RuntimeError(f"the {self.name} job is already running")
            scheduler = BackgroundScheduler(
                jobstores={"default": MemoryJobStore()},
                executors={"default": ThreadPoolExecutor(max_workers=1)},
                timezone=UTC,
            )
            scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
            scheduler.add_job(
                self._run,
                trigger=IntervalTrigger(
                    seconds=self.interval_seconds,
                    jitter=self.jitter_seconds or None,
                    timezone=UTC,
                ),
                id=f"tokenbot-{self.name}",
                name=self.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(1, int(round(self.interval_seconds))),
                next_run_time=datetime.now(UTC) + timedelta(seconds=self.first_delay_seconds),
                replace_existing=True,
            )
            scheduler.start()
            self._scheduler = scheduler
        log.info("%s job started (every %g s)", self.name, self.interval_seconds)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the job; with `wait`, let a running call finish."""
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        """Tell whether `start()` was called and `shutdown()` was not."""
        return self._scheduler is not None

    def _on_error(self, event: JobExecutionEvent) -> None:
        self.errors += 1
        log.error(
            "%s job failed (%s: %s); the next run is scheduled",
            self.name,
            type(event.exception).__name__,
            event.exception,
        )
