"""The on-demand path: hand out a valid access token, refreshing inline when needed (R-17).

Correctness does not depend on the scheduler: when the bot asks for a token that is inside the
refresh margin, `TokenService` runs the same claimed refresh as the sweep (`refresh_account`).
Threads of one process queue on a per-account lock, so only one of them goes to the database
to claim; other processes are kept out by the claim itself. A caller that finds the claim held
elsewhere waits (bounded, polling the store) and reads the holder's result.

Only access tokens leave this class (R-20).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

from tokenbot.core.clock import Clock
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import TokenUnavailable
from tokenbot.core.models import AccountStatus
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.records import AccessGrant
from tokenbot.core.refresher import RefreshClient
from tokenbot.core.refresher import RefreshOutcome
from tokenbot.core.refresher import make_owner
from tokenbot.core.refresher import refresh_account

if TYPE_CHECKING:
    from tokenbot.core.store import TokenStore

__all__ = ["TokenService", "TokenUnavailable"]

log = logging.getLogger(__name__)

_POLL_FIRST = 0.01
_POLL_MAX = 0.25


class TokenService:
    """Give callers an access token with at least `policy.min_token_validity_seconds` left.

    Args:
        store: The token store.
        client: The OAuth client.
        clock: The time source.
        policy: Margin, minimum validity and back-off.
        owner_prefix: Prefix of this process's lease owners (hostname, pid, thread are added).
        lease_seconds: Claim lease; keep it well above the OAuth client's timeout.
        wait_seconds: How long a caller waits for another holder's refresh.
        cache_seconds: How long a token read from the store is handed out again without
            reading it anew (0: always read). Every command makes a few API calls; a token
            another process replaced meanwhile stays valid at Webex until its own expiry, and
            a 401 makes `after_401` read the store. A disconnect or a new login reaches this
            process within this time.
        cache_clock: Seconds on a monotonic scale for the cache's age (tests pass a fake one
            to step past `cache_seconds` without sleeping).
    """

    def __init__(
        self,
        store: TokenStore,
        client: RefreshClient,
        *,
        clock: Clock,
        policy: RefreshPolicy,
        owner_prefix: str = "tokenbot",
        lease_seconds: float = 60,
        wait_seconds: float = 20,
        cache_seconds: float = 2.0,
        cache_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._policy = policy
        self._owner_prefix = owner_prefix
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._cache_seconds = cache_seconds
        self._cache_clock = cache_clock
        # account id -> (grant, monotonic time it was read); plain dict ops are atomic.
        self._cache: dict[int, tuple[AccessGrant, float]] = {}

    # -- public --------------------------------------------------------------------------------

    def access_token(self, account_id: int) -> str:
        """Return a usable access token for the account, refreshing it first when due.

        Raises:
            NeedsReauth: The grant is gone; someone must log in again.
            TokenUnavailable: No token with enough validity could be had within the wait.
        """
        return self.access_grant(account_id).access_token

    def access_grant(self, account_id: int) -> AccessGrant:
        """Return a usable access grant (token and expiry), refreshing it first when due.

        Same path as `access_token`; callers that pass the token on (the broker) also need
        its expiry.

        Raises:
            NeedsReauth: The grant is gone; someone must log in again.
            TokenUnavailable: No token with enough validity could be had within the wait.
        """
        cached = self._cache.get(account_id)
        if cached is not None and self._cache_clock() - cached[1] < self._cache_seconds:
            if not self._due(cached[0]):
                return cached[0]
        grant = self._store.access_grant(account_id)
        if not self._due(grant):
            self._remember(grant)
            return grant
        self._cache.pop(account_id, None)
        deadline = time.monotonic() + self._wait_seconds
        lock = self._lock(account_id)
        if not lock.acquire(timeout=self._wait_seconds):
            return self._fallback(account_id, "another thread is still refreshing")
        try:
            # The thread before us may have refreshed it while we queued.
            grant = self._store.access_grant(account_id)
            if not self._due(grant):
                return grant
            outcome = self._refresh(account_id, force=False)
            return self._after(account_id, outcome, grant, deadline)
        finally:
            lock.release()

    def force_refresh(self, account_id: int) -> RefreshOutcome:
        """Refresh now, even if not due (the panel's "refresh now").

        Returns "busy" when another process holds the claim; its refresh is as good as ours.
        """
        self._cache.pop(account_id, None)
        lock = self._lock(account_id)
        if not lock.acquire(timeout=self._wait_seconds):
            return RefreshOutcome(account_id, "busy", 0.0, message="another thread is refreshing")
        try:
            return self._refresh(account_id, force=True)
        finally:
            lock.release()

    def after_401(self, account_id: int, seen_token: str) -> str:
        """Return a token to retry with after Webex answered 401 to `seen_token`.

        Refreshes at most once, and not at all when another thread or process already
        replaced `seen_token`: the caller then gets the newer token.

        Raises:
            NeedsReauth: The grant is gone.
            TokenUnavailable: No new token could be had within the wait.
        """
        self._cache.pop(account_id, None)
        deadline = time.monotonic() + self._wait_seconds
        lock = self._lock(account_id)
        if not lock.acquire(timeout=self._wait_seconds):
            return self._fallback(
                account_id, "another thread is still refreshing", seen_token
            ).access_token
        try:
            grant = self._store.access_grant(account_id)
            if grant.access_token != seen_token and self._usable(grant):
                return grant.access_token
            # Another process may replace the token between this read and our claim.
            outcome = self._refresh(account_id, force=True, unless_replaced=grant.expires_at)
            return self._after(
                account_id, outcome, grant, deadline, rejected=seen_token
            ).access_token
        finally:
            lock.release()

    # -- internals -----------------------------------------------------------------------------

    def forget(self, account_id: int | None = None) -> None:
        """Drop the cached token of one account (or of all): the next call reads the store."""
        if account_id is None:
            self._cache.clear()
        else:
            self._cache.pop(account_id, None)

    def _remember(self, grant: AccessGrant) -> None:
        if self._cache_seconds > 0:
            self._cache[grant.account_id] = (grant, self._cache_clock())

    def _lock(self, account_id: int) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(account_id, threading.Lock())

    def _refresh(
        self, account_id: int, *, force: bool, unless_replaced: datetime | None = None
    ) -> RefreshOutcome:
        return refresh_account(
            self._store,
            self._client,
            account_id,
            clock=self._clock,
            policy=self._policy,
            owner=make_owner(self._owner_prefix),
            lease_seconds=self._lease_seconds,
            force=force,
            unless_replaced=unless_replaced,
        )

    def _due(self, grant: AccessGrant) -> bool:
        remaining = grant.expires_at - self._clock.now()
        # Inside the margin, or too short to send: the on-demand path refreshes. The 10 % rule
        # and the keep-alive are the sweep's business.
        return remaining < timedelta(
            seconds=max(self._policy.margin_seconds, self._policy.min_token_validity_seconds)
        )

    def _usable(self, grant: AccessGrant) -> bool:
        return self._policy.is_usable(self._clock.now(), grant.expires_at)

    def _after(
        self,
        account_id: int,
        outcome: RefreshOutcome,
        before: AccessGrant,
        deadline: float,
        *,
        rejected: str | None = None,
    ) -> AccessGrant:
        if outcome.result == "needs_reauth":
            raise NeedsReauth(
                f"account {account_id} needs a new login: {outcome.message}",
                hint="connect the account again in the panel",
            )
        if outcome.ok:
            grant = self._store.access_grant(account_id)
            if self._usable(grant) and grant.access_token != rejected:
                return grant
            return self._fallback(account_id, "the refreshed token is not usable", rejected)
        if outcome.result == "busy":
            return self._wait_for_holder(account_id, before, deadline, rejected)
        return self._fallback(account_id, outcome.message or outcome.result, rejected)

    def _wait_for_holder(
        self, account_id: int, before: AccessGrant, deadline: float, rejected: str | None
    ) -> AccessGrant:
        """Poll until the other holder's claim ends, then use its token (bounded)."""
        pause = _POLL_FIRST
        while time.monotonic() < deadline:
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, _POLL_MAX)
            view = self._store.get(account_id)
            if view.status in (AccountStatus.NEEDS_REAUTH, AccountStatus.DISCONNECTED):
                raise NeedsReauth(
                    f"account {account_id} needs a new login ({view.last_error or view.status})",
                    hint="connect the account again in the panel",
                )
            now = self._clock.now()
            if view.lease_owner is not None and view.lease_until and view.lease_until > now:
                continue  # still theirs
            grant = self._store.access_grant(account_id)
            if grant.version != before.version or grant.access_token != before.access_token:
                if self._usable(grant) and grant.access_token != rejected:
                    if not self._due(grant) or rejected is None:
                        return grant
                # The holder finished without a usable new token (it failed): no retry storm.
                return self._fallback(account_id, view.last_error or "refresh failed", rejected)
            # The lease ran out and nothing changed: its holder died. Try once ourselves.
            outcome = self._refresh(account_id, force=rejected is not None)
            if outcome.result != "busy":
                return self._after(account_id, outcome, grant, deadline, rejected=rejected)
        return self._fallback(account_id, "timed out waiting for another refresh", rejected)

    def _fallback(self, account_id: int, why: str, rejected: str | None = None) -> AccessGrant:
        """Return the current token if it is still usable (and not the one Webex rejected)."""
        grant = self._store.access_grant(account_id)
        if self._usable(grant) and grant.access_token != rejected:
            log.warning(
                "account %s: refresh not done (%s); using the current token, still valid",
                account_id,
                why,
            )
            return grant
        raise TokenUnavailable(
            f"no usable access token for account {account_id}: {why}",
            hint="see the account's history in the panel; it is retried automatically",
        )
