"""The health probe: ask Webex whether each active account's token still works.

A status that reads "valid" until a call fails is the failure this prevents. Every
`refresh.probe_interval_seconds` (APScheduler job, jittered), the accounts verified longest ago
(at most `refresh.probe_batch` per run) get one cheap ``GET /v1/people/me`` with the access token
we believe valid. Success stamps ``last_verified_at``. A 401 is recorded as a
``token_rejected`` event and sends the account once through the normal refresh path
(`TokenService.after_401`): a revoked grant then ends in ``needs_reauth`` and its notification,
a merely revoked access token is replaced. Transient failures (timeouts, 5xx, 429) change
nothing: they say nothing about the token.

Only accounts whose stored token has not expired are probed (the refresher owns the others),
and each run stops early when the process stops.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from tokenbot.core.clock import Clock
from tokenbot.core.errors import FatalOAuthError
from tokenbot.core.errors import OAuthError
from tokenbot.core.errors import TokenbotError
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.rows import execute_update
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService
from tokenbot.core.tokens import Identity

__all__ = ["ProbeReport", "probe_accounts"]

log = logging.getLogger(__name__)


class _Identify(Protocol):
    def identify(self, access_token: str) -> Identity: ...


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """What one probe run found."""

    verified: int = 0
    rejected: int = 0
    skipped: int = 0


def probe_accounts(
    store: TokenStore,
    tokens: TokenService,
    oauth: _Identify,
    *,
    clock: Clock,
    batch: int = 200,
    stop: threading.Event | None = None,
) -> ProbeReport:
    """Verify up to `batch` active accounts' tokens at Webex, oldest verification first."""
    now = clock.now()
    query = (
        sa.select(Account.id)
        .where(
            Account.status == AccountStatus.ACTIVE,
            Account.access_token_enc.is_not(None),
            Account.access_expires_at > now,
        )
        .order_by(Account.last_verified_at.is_not(None), Account.last_verified_at, Account.id)
        .limit(batch)
    )
    with store.db.read() as session:
        ids = list(session.execute(query).scalars())
    verified = rejected = skipped = 0
    for account_id in ids:
        if stop is not None and stop.is_set():
            break
        try:
            grant = store.access_grant(account_id)
        except TokenbotError:
            skipped += 1
            continue
        try:
            oauth.identify(grant.access_token)
        except FatalOAuthError:
            rejected += 1
            _rejected(store, tokens, account_id, grant.access_token)
            continue
        except OAuthError as exc:
            skipped += 1
            log.info("probe of account %s inconclusive (%s)", account_id, exc.code)
            continue
        verified += 1
        _verified(store, account_id, clock.now())
    if ids:
        log.info("probe: %d verified, %d rejected, %d inconclusive", verified, rejected, skipped)
    return ProbeReport(verified, rejected, skipped)


def _verified(store: TokenStore, account_id: int, now: datetime) -> None:
    # Bookkeeping, not token material: no version bump, so no refresh claim is disturbed.
    with store.db.write(durable=False) as session:
        execute_update(
            session,
            sa.update(Account).where(Account.id == account_id).values(last_verified_at=now),
        )


def _rejected(store: TokenStore, tokens: TokenService, account_id: int, seen: str) -> None:
    log.warning(
        "probe: Webex rejected the access token of account %s that we believed valid; "
        "refreshing it once",
        account_id,
    )
    store.record_event(
        account_id,
        EventKind.TOKEN_REJECTED,
        detail="health probe: Webex answered 401 to the access token we believed valid; "
        "refreshing once",
    )
    try:
        tokens.after_401(account_id, seen)
    except TokenbotError as exc:
        log.warning("probe: account %s could not get a new token (%s)", account_id, exc.code)
