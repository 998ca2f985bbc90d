"""The refresh scheduler: runs at start, survives errors, counts overlaps, stops cleanly."""

from __future__ import annotations

import logging
import threading
from datetime import UTC
from datetime import datetime

import pytest
from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.events import JobEvent

from tests.plugins.tokens import wait_until
from tokenbot.core.scheduler import JOB_ID
from tokenbot.core.scheduler import RefreshScheduler


def _scheduler_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name == "APScheduler" or t.name.startswith("ThreadPoolExecutor")
    ]


@pytest.fixture
def stop_all() -> list[RefreshScheduler]:
    started: list[RefreshScheduler] = []
    yield started
    for scheduler in started:
        scheduler.shutdown(wait=True)


def test_importing_starts_nothing() -> None:
    import tokenbot.core.scheduler  # noqa: F401

    assert not [t for t in threading.enumerate() if t.name == "APScheduler"]


def test_first_sweep_runs_at_start(stop_all: list[RefreshScheduler]) -> None:
    report = object()
    calls: list[float] = []

    def run() -> object:
        calls.append(1)
        return report

    scheduler = RefreshScheduler(run, interval_seconds=3600)  # type: ignore[arg-type]
    stop_all.append(scheduler)
    assert not scheduler.alive()
    scheduler.start()
    wait_until(lambda: scheduler.counters["runs"] == 1, what="the catch-up sweep")
    assert calls == [1]
    assert scheduler.last_report is report
    assert scheduler.last_run_at is not None
    assert scheduler.alive()


def test_errors_are_counted_and_logged_and_the_scheduler_keeps_going(
    stop_all: list[RefreshScheduler], caplog: pytest.LogCaptureFixture
) -> None:
    report = object()
    attempts: list[int] = []

    def run() -> object:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database went away")
        return report

    scheduler = RefreshScheduler(run, interval_seconds=0.1)  # type: ignore[arg-type]
    stop_all.append(scheduler)
    with caplog.at_level(logging.ERROR, logger="tokenbot.core.scheduler"):
        scheduler.start()
        wait_until(lambda: scheduler.last_report is report, what="a sweep after the failure")
    assert scheduler.counters["errors"] == 1
    assert scheduler.counters["runs"] >= 2
    assert scheduler.alive()
    messages = [r.getMessage() for r in caplog.records if r.name == "tokenbot.core.scheduler"]
    assert any("RuntimeError: database went away" in m for m in messages)


def test_overlapping_sweeps_are_skipped_and_counted(stop_all: list[RefreshScheduler]) -> None:
    release = threading.Event()
    running = threading.Event()
    concurrent: list[int] = []
    active = [0]

    def slow() -> object:
        active[0] += 1
        concurrent.append(active[0])
        running.set()
        release.wait(10)
        active[0] -= 1
        return object()

    scheduler = RefreshScheduler(slow, interval_seconds=0.05)  # type: ignore[arg-type]
    stop_all.append(scheduler)
    scheduler.start()
    assert running.wait(5)
    wait_until(lambda: scheduler.counters["max_instances"] >= 1, what="an overlap event")
    release.set()
    wait_until(lambda: scheduler.counters["runs"] >= 2, what="the next sweep")
    assert max(concurrent) == 1


def test_missed_runs_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    scheduler = RefreshScheduler(lambda: object(), interval_seconds=60)  # type: ignore[arg-type,return-value]
    with caplog.at_level(logging.WARNING, logger="tokenbot.core.scheduler"):
        scheduler._on_event(JobEvent(EVENT_JOB_MISSED, JOB_ID, "default"))
    assert scheduler.counters["missed"] == 1
    assert any("missed" in r.getMessage() for r in caplog.records)


def test_shutdown_stops_the_job_and_leaves_no_thread() -> None:
    before = set(_scheduler_threads())
    calls: list[int] = []
    scheduler = RefreshScheduler(lambda: calls.append(1) or object(), interval_seconds=0.05)  # type: ignore[arg-type,func-returns-value]
    scheduler.start()
    wait_until(lambda: len(calls) >= 2, what="two sweeps")
    scheduler.shutdown(wait=True)
    assert not scheduler.alive()
    assert not scheduler.running
    assert set(_scheduler_threads()) - before == set()
    seen = len(calls)
    # No deadline helper can prove a negative; a short pause of several intervals does.
    threading.Event().wait(0.3)
    assert len(calls) == seen


def test_start_twice_is_refused_and_restart_after_shutdown_works() -> None:
    scheduler = RefreshScheduler(lambda: object(), interval_seconds=3600)  # type: ignore[arg-type,return-value]
    scheduler.start()
    try:
        with pytest.raises(RuntimeError):
            scheduler.start()
    finally:
        scheduler.shutdown()
    scheduler.start()
    try:
        wait_until(lambda: scheduler.counters["runs"] == 2, what="the second start's sweep")
    finally:
        scheduler.shutdown()


def test_misfire_grace_below_the_interval_is_refused() -> None:
    with pytest.raises(ValueError):
        RefreshScheduler(lambda: object(), interval_seconds=60, misfire_grace_seconds=5)  # type: ignore[arg-type,return-value]


def test_alive_is_false_when_the_sweep_is_overdue() -> None:
    from tokenbot.core.clock import FrozenClock

    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    scheduler = RefreshScheduler(lambda: object(), interval_seconds=3600, clock=clock)  # type: ignore[arg-type,return-value]
    scheduler.start()
    try:
        wait_until(lambda: scheduler.counters["runs"] == 1, what="the catch-up sweep")
        assert scheduler.alive()
        clock.advance(3 * 3600 + 1)
        assert not scheduler.alive()
    finally:
        scheduler.shutdown()


def test_the_sweep_job_is_coalesced_single_and_graceful() -> None:
    """R-16: one sweep at a time, missed runs folded into one, a grace of a whole interval."""
    scheduler = RefreshScheduler(lambda: object(), interval_seconds=30)  # type: ignore[arg-type,return-value]
    scheduler.start()
    try:
        assert scheduler._scheduler is not None
        (job,) = scheduler._scheduler.get_jobs()
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time >= 30
        assert job.trigger.interval.total_seconds() == 30
    finally:
        scheduler.shutdown()
