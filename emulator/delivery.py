"""The background worker that POSTs webhook envelopes, retrying with backoff."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass
from dataclasses import field

import requests

from tokenbot.emulator.events import record_result
from tokenbot.emulator.ids import iso
from tokenbot.emulator.ids import make_id
from tokenbot.emulator.ids import tracking_id
from tokenbot.emulator.network import network_delay
from tokenbot.emulator.state import EmulatorState


@dataclass(order=True)
class _Job:
    due: float
    order: int
    webhook_uuid: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    attempt: int = field(compare=False, default=0)
    generation: int = field(compare=False, default=0)


class DeliveryWorker:
    """Deliver queued envelopes from a few threads, never from the request thread.

    Args:
        state: the emulator state (settings, webhooks, delivery log).
        threads: how many deliveries may be in flight at once.
    """

    def __init__(self, state: EmulatorState, threads: int = 4) -> None:
        self._state = state
        self._threads_wanted = threads
        self._heap: list[_Job] = []
        self._order = itertools.count()
        self._generation = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._busy = 0

    def start(self) -> None:
        """Start the delivery threads."""
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            for number in range(self._threads_wanted):
                thread = threading.Thread(
                    target=self._run, name=f"emulator-delivery-{number}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the threads (idempotent); queued deliveries are dropped."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def clear(self) -> None:
        """Drop queued deliveries and retries (used by reset)."""
        with self._cond:
            self._heap.clear()
            self._generation += 1

    def enqueue(self, webhook_uuid: str, body: bytes, headers: dict[str, str]) -> None:
        """Queue a first delivery attempt."""
        with self._cond:
            # The simulated network delays the delivery in the queue, not in a thread, so a
            # slow WAN does not also cap how many deliveries are in flight.
            settings = self._state.settings
            due = time.monotonic() + network_delay(settings.latency_ms, settings.latency_jitter_ms)
            job = _Job(due, next(self._order), webhook_uuid, body, headers)
            job.generation = self._generation
            heapq.heappush(self._heap, job)
            self._cond.notify()

    def idle(self) -> bool:
        """Return True when nothing is queued or in flight."""
        with self._cond:
            return not self._heap and self._busy == 0

    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._stopping:
                if self._heap:
                    wait = self._heap[0].due - time.monotonic()
                    if wait <= 0:
                        self._busy += 1
                        return heapq.heappop(self._heap)
                    self._cond.wait(min(wait, 1.0))
                else:
                    self._cond.wait(1.0)
            return None

    def _run(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            try:
                self._deliver(job)
            finally:
                with self._cond:
                    self._busy -= 1

    def _deliver(self, job: _Job) -> None:
        state = self._state
        with state.lock:
            webhook = state.webhooks.get(job.webhook_uuid)
            if webhook is None or webhook.status != "active":
                return
            settings = state.settings
            if settings.webhook_drop_deliveries:
                return  # swallowed on the way: no failure counts, the webhook stays active
            url = webhook.target_url
            timeout, retries, backoff = (
                settings.webhook_timeout,
                settings.webhook_retries,
                settings.webhook_retry_backoff,
            )
        headers = dict(job.headers)
        headers["TrackingID"] = tracking_id()
        headers["User-Agent"] = "Webex-Emulator-Webhooks/1.0"
        status: int | None = None
        error: str | None = None
        try:
            response = requests.post(
                url, data=job.body, headers=headers, timeout=timeout, allow_redirects=False
            )
            status = response.status_code
            response.close()
        except requests.RequestException as exc:
            error = type(exc).__name__
        ok = status is not None and 200 <= status < 300
        with self._cond:
            if job.generation != self._generation:
                return
        now = state.clock.now()
        active = record_result(state, job.webhook_uuid, ok, now)
        state.record_delivery(
            {
                "webhookId": make_id("WEBHOOK", job.webhook_uuid),
                "targetUrl": url,
                "attempt": job.attempt + 1,
                "status": status,
                "error": error,
                "ok": ok,
                "time": iso(now),
            }
        )
        if not ok and active and job.attempt < retries:
            with self._cond:
                if self._stopping or job.generation != self._generation:
                    return
                job.attempt += 1
                job.due = (
                    time.monotonic()
                    + backoff * (2 ** (job.attempt - 1))
                    + network_delay(settings.latency_ms, settings.latency_jitter_ms)
                )
                job.order = next(self._order)
                heapq.heappush(self._heap, job)
                self._cond.notify()
