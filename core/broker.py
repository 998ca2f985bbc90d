"""Hand live access tokens to the user's own tools: scoped, audited, access token only.

`TokenBroker.hand_out` is the whole decision, framework-free; the panel's
``POST /api/v1/accounts/{id}/access-token`` maps its answers to HTTP. An API token needs the
``tokens:read`` scope and must name the account (or all accounts); when it lists Webex scopes,
the account's grant must include them. Every refusal of that kind looks the same, whether the
account exists or not. The token comes from `TokenService.access_grant`, so a due token is
refreshed through the store's claimed path (exactly once across processes), and the answer
has at least ``refresh.min_token_validity_seconds`` left.

Never the refresh token, never the client secret: `Handout` has no field for either. Every
handout is an account event (which API token, from which address; no token) and a count in
`handout_counters` for /metrics.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import NoReturn

from tokenbot.core.api_tokens import ApiClient
from tokenbot.core.clock import Clock
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.errors import BrokerDenied
from tokenbot.core.errors import BrokerUnavailable
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import TokenUnavailable
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService

__all__ = [
    "HANDOUT_RESULTS",
    "BrokerDenied",
    "BrokerUnavailable",
    "Handout",
    "TokenBroker",
    "count_handout",
    "handout_counters",
]

log = logging.getLogger(__name__)

# Every answer the broker route gives, as the /metrics counter's `result` label.
HANDOUT_RESULTS = (
    "handed_out",
    "forbidden",
    "needs_reauth",
    "unavailable",
    "rate_limited",
    "unauthorized",
)
DEFAULT_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Handout:
    """What an API client receives: the access token, its expiry, the grant's scopes."""

    access_token: str = field(repr=False)
    expires_at: datetime
    scopes: tuple[str, ...]
    account_id: int
    email: str


class _Counters:
    """Process-wide broker answers by result, for /metrics (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, result: str) -> None:
        with self._lock:
            self._counts[result] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: self._counts.get(name, 0) for name in HANDOUT_RESULTS}


_counters = _Counters()


def count_handout(result: str) -> None:
    """Count one broker answer with `result` (one of `HANDOUT_RESULTS`)."""
    _counters.add(result)


def handout_counters() -> dict[str, int]:
    """Return how many broker answers of each result this process gave (for metrics)."""
    return _counters.snapshot()


_DENIED = "this API token may not read the access token of that account"


class TokenBroker:
    """Decide and carry out one access-token handout.

    Args:
        store: The token store (accounts, events).
        tokens: The token service whose claimed refresh path keeps handouts exactly-once.
        clock: The time source (for Retry-After).
    """

    def __init__(self, store: TokenStore, tokens: TokenService, *, clock: Clock) -> None:
        self._store = store
        self._tokens = tokens
        self._clock = clock

    def hand_out(self, client: ApiClient, account_id: int, *, address: str) -> Handout:
        """Return a live access token of `account_id` for `client`, recorded in its history.

        Raises:
            BrokerDenied: the token lacks ``tokens:read``, does not name the account, the
                account's grant lacks a required Webex scope, or there is no such account.
            NeedsReauth: the account must be connected again.
            BrokerUnavailable: no usable token could be had (Webex is failing).
        """
        if not client.covers_account(account_id):
            self._deny(client, account_id, "the token does not cover the account")
        try:
            view = self._store.get(account_id)
        except AccountNotFound:
            self._deny(client, account_id, "no such account")
        missing = client.missing_webex_scopes(view.scopes)
        if missing:
            self._deny(client, account_id, f"the grant lacks {' '.join(missing)}")
        try:
            # The token service may answer from its short cache; the account's status is read
            # fresh here, so a disconnect stops handouts at once.
            if view.status in (AccountStatus.NEEDS_REAUTH, AccountStatus.DISCONNECTED):
                raise NeedsReauth(
                    f"account {account_id} ({view.status.value}) has no usable grant",
                    hint="log in with Webex again from the admin panel",
                )
            grant = self._tokens.access_grant(account_id)
        except NeedsReauth:
            count_handout("needs_reauth")
            raise
        except TokenUnavailable as exc:
            count_handout("unavailable")
            raise BrokerUnavailable(
                str(exc), retry_after_seconds=self._retry_after(account_id), hint=exc.hint
            ) from None
        # The audit entry is written before the token leaves: no record, no handout.
        self._store.record_event(
            account_id,
            EventKind.TOKEN_HANDED_OUT,
            detail=f"access token handed to API token {client.name!r} from {address}",
            owner=f"api-token:{client.name}",
        )
        count_handout("handed_out")
        log.info(
            "access token of account %s handed to API token %r from %s",
            account_id,
            client.name,
            address,
        )
        return Handout(
            access_token=grant.access_token,
            expires_at=grant.expires_at,
            scopes=view.scopes,
            account_id=view.id,
            email=view.email,
        )

    def _deny(self, client: ApiClient, account_id: int, why: str) -> NoReturn:
        count_handout("forbidden")
        # The reason stays in the server's log; the client sees one answer for all of them.
        log.warning("broker refused API token %r for account %s: %s", client.name, account_id, why)
        raise BrokerDenied(_DENIED, hint="ask an admin for a token that covers this account")

    def _retry_after(self, account_id: int) -> int:
        try:
            view = self._store.get(account_id)
        except AccountNotFound:
            return DEFAULT_RETRY_SECONDS
        if view.next_refresh_at is None:
            return DEFAULT_RETRY_SECONDS
        seconds = int((view.next_refresh_at - self._clock.now()).total_seconds()) + 1
        return max(1, min(seconds, MAX_RETRY_SECONDS))
