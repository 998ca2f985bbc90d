"""Refresh an account's tokens exactly once (the sweep over due accounts is in core.sweep).

`refresh_account` is the one refresh routine: the sweep, the on-demand path (`TokenService`)
and the panel's "refresh now" all go through it. It is the token lifecycle of
docs/architecture.md, step by step:

1. claim the account in the database (lease owner + lease until + version); no claim -> "busy";
2. look at the row re-read by the claim: someone else refreshed meanwhile -> release, "fresh",
   no call to Webex (R-10);
3. note the time the request is *sent*, then call the token endpoint;
4. store the new tokens in one fenced transaction; a stale writer is rejected ("stale"); a
   failed write after Webex answered is an alarm ("persist_failed"), never a success (R-12);
5. timeouts, 5xx, 429 keep the token and back off (R-13);
6. `invalid_grant` re-reads once: if the row changed, someone else won the race ("fresh",
   F-7); otherwise the grant is dead: `needs_reauth`, with a reason that says what happened.

The routine is a plain function of (store, client, clock, policy) that returns an outcome
(docs/architecture.md, "Seams"). The client never sees the store, the store never speaks HTTP.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Literal
from typing import Protocol

from tokenbot.core.clock import Clock
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.errors import FatalOAuthError
from tokenbot.core.errors import OAuthAnswerLost
from tokenbot.core.errors import OAuthError
from tokenbot.core.errors import PersistenceFailed
from tokenbot.core.errors import StaleWrite
from tokenbot.core.errors import TransientOAuthError
from tokenbot.core.logs import fingerprint
from tokenbot.core.models import AccountStatus
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.records import AccountView
from tokenbot.core.records import Claim
from tokenbot.core.tokens import TokenSet

if TYPE_CHECKING:
    from tokenbot.core.store import TokenStore

__all__ = [
    "RESULTS",
    "RefreshClient",
    "RefreshOutcome",
    "make_owner",
    "refresh_account",
    "refresh_counters",
]

log = logging.getLogger(__name__)

Result = Literal["refreshed", "fresh", "busy", "failed", "needs_reauth", "stale", "persist_failed"]
RESULTS: tuple[Result, ...] = (
    "refreshed",
    "fresh",
    "busy",
    "failed",
    "needs_reauth",
    "stale",
    "persist_failed",
)

REAUTH_REASON = "Webex rejected the refresh token (invalid_grant); log in again"
LOST_ANSWER_REASON = (
    "Webex rejected the refresh token (invalid_grant) after an earlier refresh got no answer "
    "(timeout or dropped connection): Webex probably rotated the token then; log in again"
)
INTERRUPTED_REASON = (
    "a refresh was interrupted after Webex rotated the token (the process holding the lease "
    "stopped between Webex's answer and the commit); log in again"
)


class RefreshClient(Protocol):
    """What the refresher needs of the OAuth client (`core.oauth.WebexOAuthClient`)."""

    def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for new tokens."""
        ...


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What one `refresh_account` call did.

    Attributes:
        account_id: The account.
        result: One of `RESULTS`.
        duration: Seconds the whole routine took (claim to commit).
        error_code: A stable code when the result is not a success (e.g. ``invalid_grant``,
            ``oauth_transient``, ``persistence_failed``), else None.
        message: A short human explanation (never a secret), or None.
        account: The account as stored after a successful refresh (spares the sweep a read).
    """

    account_id: int
    result: Result
    duration: float
    error_code: str | None = None
    message: str | None = None
    account: AccountView | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Tell whether the account now has a fresh token (refreshed by us or by someone else)."""
        return self.result in ("refreshed", "fresh")


class _Counters:
    """Process-wide refresh results, for /metrics (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, result: str) -> None:
        with self._lock:
            self._counts[result] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: self._counts.get(name, 0) for name in RESULTS}


_counters = _Counters()


def refresh_counters() -> dict[str, int]:
    """Return how many refreshes ended with each result in this process (for metrics)."""
    return _counters.snapshot()


def make_owner(prefix: str = "tokenbot") -> str:
    """Return a lease owner unique to this process, this thread and this call."""
    host = socket.gethostname()[:64]
    return f"{prefix}:{host}:{os.getpid()}:{threading.get_ident()}:{secrets.token_hex(4)}"


def refresh_account(
    store: TokenStore,
    client: RefreshClient,
    account_id: int,
    *,
    clock: Clock,
    policy: RefreshPolicy,
    owner: str,
    lease_seconds: float = 60,
    force: bool = False,
    unless_replaced: datetime | None = None,
    _before_call: Callable[[], None] | None = None,
    _after_call: Callable[[], None] | None = None,
    _after_commit: Callable[[], None] | None = None,
) -> RefreshOutcome:
    """Refresh one account's tokens, at most once across threads, processes and hosts.

    Args:
        store: The token store.
        client: The OAuth client (only its `refresh` is used).
        account_id: The account to refresh.
        clock: The time source (expiries are computed from the time the request was sent).
        policy: Decides whether the token is still due after the claim, and the back-off.
        owner: This caller's lease owner (see `make_owner`).
        lease_seconds: How long the claim holds; keep it well above the client's timeout.
        force: Refresh even when the token is not due (panel's "refresh now", a 401).
        unless_replaced: With `force`, the access-token expiry the caller saw: when the row
            re-read after the claim shows another expiry, someone replaced the token since,
            and it is used instead of refreshing a second time (R-10).
        _before_call: Test hook, called after the claim, before the token call.
        _after_call: Test hook, called after Webex answered, before the commit.
        _after_commit: Test hook, called after the commit.

    Returns:
        The outcome; this function does not raise for refresh failures (only for bugs and an
        unreachable database before the claim).
    """
    started = time.monotonic()

    def outcome(
        result: Result,
        error_code: str | None = None,
        message: str | None = None,
        account: AccountView | None = None,
    ) -> RefreshOutcome:
        _counters.add(result)
        return RefreshOutcome(
            account_id, result, time.monotonic() - started, error_code, message, account
        )

    try:
        claim = store.claim(account_id, owner=owner, lease_seconds=lease_seconds)
    except AccountNotFound:
        return outcome("failed", AccountNotFound.code, f"no account {account_id}")
    if claim is None:
        # Not ours to refresh: tell "someone else is at it" from "there is nothing to refresh".
        try:
            now_status = store.get(account_id).status
        except AccountNotFound:
            return outcome("failed", AccountNotFound.code, f"no account {account_id}")
        if now_status in (AccountStatus.NEEDS_REAUTH, AccountStatus.DISCONNECTED):
            return outcome("needs_reauth", now_status.value, f"the account is {now_status}")
        return outcome("busy", message="another process is refreshing this account")
    # A lease that was never released and had run out when we claimed means its holder died
    # mid-refresh; with rotation on, Webex may already have retired the refresh token we hold.
    abandoned = claim.previous_lease_owner is not None and claim.previous_lease_until is not None

    called = False
    try:
        if not force and not _is_due(policy, clock.now(), claim):
            store.release(claim)
            return outcome("fresh", message="already refreshed by another process")
        if unless_replaced is not None and claim.access_expires_at != unless_replaced:
            store.release(claim)
            return outcome("fresh", message="the token was replaced meanwhile")
        if _before_call is not None:
            _before_call()
        sent_at = clock.now()
        t0 = time.monotonic()
        called = True
        try:
            tokens = client.refresh(claim.refresh_token)
        except FatalOAuthError as exc:
            reason = REAUTH_REASON
            if abandoned:
                reason = INTERRUPTED_REASON
            elif (claim.last_error or "").startswith(OAuthAnswerLost.code):
                reason = LOST_ANSWER_REASON
            return _fatal(store, claim, exc, reason, outcome, clock, policy)
        except TransientOAuthError as exc:
            return _failed(
                store, claim, exc, outcome, clock, policy, claim.failure_count, exc.retry_after
            )
        except OAuthError as exc:
            return _failed(store, claim, exc, outcome, clock, policy, claim.failure_count, None)
        duration_ms = int((time.monotonic() - t0) * 1000)
        if _after_call is not None:
            _after_call()
        try:
            stored = store.complete_refresh(claim, tokens, sent_at=sent_at, duration_ms=duration_ms)
        except StaleWrite as exc:
            log.error(
                "refresh of account %s not stored: lease lost to another holder (%s); "
                "the lease must outlive the token call",
                account_id,
                exc,
            )
            return outcome("stale", StaleWrite.code, str(exc))
        except PersistenceFailed as exc:
            log.critical(
                "ALARM: Webex refreshed account %s (access %s) but storing the tokens failed "
                "(%s); the account is NOT healthy",
                account_id,
                fingerprint(tokens.access_token),
                exc,
            )
            return outcome("persist_failed", PersistenceFailed.code, str(exc))
        if _after_commit is not None:
            _after_commit()
        log.info(
            "refreshed account %s in %d ms (access %s, refresh %s)",
            account_id,
            duration_ms,
            fingerprint(tokens.access_token),
            "rotated" if tokens.refresh_token else "kept",
        )
        return outcome("refreshed", account=stored)
    except BaseException:
        if not called:
            _release_quietly(store, claim)
        # After the call, the lease is left to run out: whoever claims next sees it abandoned.
        raise


def _is_due(policy: RefreshPolicy, now: datetime, claim: Claim) -> bool:
    if claim.obtained_at is None or claim.access_expires_at is None:
        return True
    return policy.is_due(now, claim.obtained_at, claim.access_expires_at)


def _release_quietly(store: TokenStore, claim: Claim) -> None:
    try:
        store.release(claim)
    except Exception:  # the original error matters more; the lease runs out anyway
        log.warning("could not release the claim on account %s", claim.account_id)


def _failed(
    store: TokenStore,
    claim: Claim,
    exc: OAuthError,
    outcome: Callable[..., RefreshOutcome],
    clock: Clock,
    policy: RefreshPolicy,
    failure_count: int,
    retry_after: float | None,
) -> RefreshOutcome:
    failures = failure_count + 1
    delay = policy.backoff_seconds(failures, retry_after)
    retry_at = clock.now() + timedelta(seconds=delay)
    account_id = claim.account_id
    log.warning(
        "refresh of account %s failed (%s: %s); token kept, retry in %.0f s (failure %d)",
        account_id,
        exc.code,
        exc.message,
        delay,
        failures,
    )
    try:
        store.fail_refresh(
            claim,
            error_code=exc.code,
            message=str(exc),
            retry_at=retry_at,
            transient=True,
        )
    except StaleWrite as stale:
        log.error("failure of account %s not recorded: lease lost (%s)", account_id, stale)
        return outcome("stale", StaleWrite.code, str(stale))
    return outcome("failed", exc.code, str(exc))


def _fatal(
    store: TokenStore,
    claim: Claim,
    exc: FatalOAuthError,
    reason: str,
    outcome: Callable[..., RefreshOutcome],
    clock: Clock,
    policy: RefreshPolicy,
) -> RefreshOutcome:
    account_id = claim.account_id
    if exc.error != "invalid_grant":
        # invalid_client / unauthorized_client: the integration's credentials are wrong, so
        # every account fails alike. Not the user's fault: keep the grant, retry rarely, shout.
        retry_at = clock.now() + timedelta(seconds=policy.backoff_max_seconds)
        log.critical(
            "Webex rejected the integration itself (%s) while refreshing account %s: check the "
            "client id and secret; the token is kept and retried at %s",
            exc.error,
            account_id,
            retry_at.isoformat(),
        )
        try:
            store.fail_refresh(
                claim,
                error_code=exc.error,
                message=f"Webex rejected the integration ({exc.error}): check the client id "
                "and secret",
                retry_at=retry_at,
                transient=False,
            )
        except StaleWrite as stale:
            return outcome("stale", StaleWrite.code, str(stale))
        return outcome("failed", exc.error, str(exc))

    # Re-read once (F-7): a changed row means someone else refreshed (or reconnected) and
    # rotated the token we sent; theirs is good, and ours must not mark the grant dead.
    current = store.get(account_id)
    if current.version != claim.version:
        log.warning(
            "refresh of account %s got invalid_grant, but the account changed meanwhile "
            "(version %s -> %s): someone else refreshed; using theirs",
            account_id,
            claim.version,
            current.version,
        )
        _release_quietly(store, claim)
        return outcome("fresh", message="refreshed by another process meanwhile")
    log.error("account %s needs a new login: %s", account_id, reason)
    try:
        store.mark_needs_reauth(claim, reason=reason)
    except StaleWrite as stale:
        return outcome("stale", StaleWrite.code, str(stale))
    return outcome("needs_reauth", "invalid_grant", reason)
