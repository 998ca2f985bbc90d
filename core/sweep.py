"""Sweep: refresh every due account once, a bounded number at a time (the scheduler's job).

One indexed query finds what is due; each account goes through `refresh_account` (the one
refresh routine, in core.refresher) on a bounded thread pool. A sweep with nothing due
makes exactly one query. It returns a `SweepReport` (docs/architecture.md, "Seams").
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta

from tokenbot.core.clock import Clock
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.refresher import RefreshClient
from tokenbot.core.refresher import RefreshOutcome
from tokenbot.core.refresher import refresh_account
from tokenbot.core.store import TokenStore

__all__ = ["SweepReport", "sweep"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did: how many accounts were due and what happened to each."""

    started_at: datetime
    duration: float
    due: int
    counts: Mapping[str, int]
    warnings: int = 0
    outcomes: tuple[RefreshOutcome, ...] = field(default=(), repr=False)

    def count(self, result: str) -> int:
        """Return how many accounts ended with `result`."""
        return self.counts.get(result, 0)


def sweep(
    store: TokenStore,
    client: RefreshClient,
    *,
    clock: Clock,
    policy: RefreshPolicy,
    owner: str,
    max_workers: int = 16,
    batch_limit: int = 500,
    lease_seconds: float = 60,
    stop: threading.Event | None = None,
) -> SweepReport:
    """Refresh every due account (one indexed query), a bounded number at a time.

    Also records refresh-token expiry warnings for the accounts it visited. A sweep with
    nothing due makes exactly one query.

    Args:
        store: The token store.
        client: The OAuth client.
        clock: The time source.
        policy: Refresh policy.
        owner: Lease owner prefix; each worker appends its thread.
        max_workers: Most refreshes in flight at once.
        batch_limit: Most accounts per sweep (the rest wait for the next one).
        lease_seconds: Claim lease per account.
        stop: Set when the process shuts down: accounts not yet started are left for the next
            sweep (by this or another process), so a stop waits for at most the refreshes in
            flight instead of a whole backlog behind a slow Webex.
    """
    started_at = clock.now()
    t0 = time.monotonic()
    ids = list(store.due_account_ids(started_at, limit=batch_limit))
    if not ids:
        return SweepReport(started_at, time.monotonic() - t0, 0, {})

    def one(account_id: int) -> tuple[RefreshOutcome, bool] | None:
        if stop is not None and stop.is_set():
            return None
        worker = f"{owner}:{threading.get_ident()}"
        try:
            result = refresh_account(
                store,
                client,
                account_id,
                clock=clock,
                policy=policy,
                owner=worker,
                lease_seconds=lease_seconds,
            )
        except Exception as exc:  # one broken account must not stop the sweep
            log.exception("refresh of account %s crashed", account_id)
            result = RefreshOutcome(account_id, "failed", 0.0, "internal", type(exc).__name__)
            try:
                # Not silent: the account shows failing, and is retried after a back-off
                # instead of crashing again every sweep.
                retry_at = clock.now() + timedelta(seconds=policy.backoff_max_seconds)
                code = getattr(exc, "code", "internal")
                store.defer_after_error(
                    account_id, error_code=code, message=str(exc), retry_at=retry_at
                )
            except Exception:
                log.exception("could not record the failure of account %s", account_id)
        warned = False
        if result.result in ("refreshed", "fresh", "failed"):
            try:
                # A read first (spared after our own refresh): the note is a write
                # transaction, needed only near expiry.
                view = result.account or store.get(account_id)
                if view.refresh_warned_at is None and policy.refresh_token_warning(
                    clock.now(), view.refresh_expires_at
                ):
                    warned = store.note_refresh_token_warning(account_id)
            except Exception:
                log.exception("could not check the refresh token expiry of account %s", account_id)
        return result, warned

    workers = max(1, min(max_workers, len(ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tokenbot-refresh") as pool:
        results = [r for r in pool.map(one, ids) if r is not None]
    if len(results) < len(ids):
        log.info(
            "sweep stopped: %d due account(s) left for the next sweep", len(ids) - len(results)
        )
    outcomes = tuple(r for r, _ in results)
    counts: Counter[str] = Counter(o.result for o in outcomes)
    report = SweepReport(
        started_at=started_at,
        duration=time.monotonic() - t0,
        due=len(ids),
        counts=dict(counts),
        warnings=sum(1 for _, warned in results if warned),
        outcomes=outcomes,
    )
    log.info(
        "sweep: %d due, %s in %.2f s",
        report.due,
        ", ".join(f"{k}={v}" for k, v in sorted(counts.items())),
        report.duration,
    )
    return report
