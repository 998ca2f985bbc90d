"""What the token store hands out: frozen views of accounts, events, grants and claims.

Only `AccessGrant` carries a decrypted access token and only `Claim` the decrypted refresh
token (R-20); neither shows it in its repr. Everything else is bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import TypedDict

from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.models import TokenEvent

__all__ = [
    "HEALTH_STATES",
    "AccessGrant",
    "AccountSummary",
    "AccountView",
    "Claim",
    "EventView",
]

# The panel's badge for an account, worst first.
HEALTH_STATES = ("disconnected", "needs_reauth", "failing", "refresh_due", "healthy")


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as the panel, the CLI and the refresher see it: no token material."""

    id: int
    person_id: str
    email: str
    display_name: str
    org_id: str | None
    scopes: tuple[str, ...]
    status: AccountStatus
    is_bot_identity: bool
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    obtained_at: datetime | None
    last_refreshed_at: datetime | None
    next_refresh_at: datetime | None
    failure_count: int
    last_error: str | None
    version: int
    has_tokens: bool
    lease_owner: str | None = None
    lease_until: datetime | None = None
    refresh_warned_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_verified_at: datetime | None = None

    @classmethod
    def of(cls, row: Account) -> AccountView:
        """Build the view of a loaded row."""
        return cls(
            id=row.id,
            person_id=row.person_id,
            email=row.email,
            display_name=row.display_name,
            org_id=row.org_id,
            scopes=tuple(row.scopes.split()),
            status=AccountStatus(row.status),
            is_bot_identity=row.is_bot_identity,
            access_expires_at=row.access_expires_at,
            refresh_expires_at=row.refresh_expires_at,
            obtained_at=row.obtained_at,
            last_refreshed_at=row.last_refreshed_at,
            next_refresh_at=row.next_refresh_at,
            failure_count=row.failure_count,
            last_error=row.last_error,
            version=row.version,
            has_tokens=row.access_token_enc is not None and row.refresh_token_enc is not None,
            lease_owner=row.lease_owner,
            lease_until=row.lease_until,
            refresh_warned_at=row.refresh_warned_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_verified_at=row.last_verified_at,
        )

    def health(self, now: datetime) -> str:
        """Return the panel's badge: one of `HEALTH_STATES`."""
        if self.status is AccountStatus.DISCONNECTED:
            return "disconnected"
        if self.status is AccountStatus.NEEDS_REAUTH or not self.has_tokens:
            return "needs_reauth"
        if self.status is AccountStatus.REFRESH_FAILING:
            return "failing"
        due = self.next_refresh_at is not None and self.next_refresh_at <= now
        expired = self.access_expires_at is None or self.access_expires_at <= now
        return "refresh_due" if due or expired else "healthy"


@dataclass(frozen=True, slots=True)
class EventView:
    """One entry of an account's history."""

    id: int
    account_id: int
    kind: EventKind
    at: datetime
    duration_ms: int | None
    detail: str
    owner: str | None

    @classmethod
    def of(cls, row: TokenEvent) -> EventView:
        """Build the view of a loaded row."""
        return cls(
            id=row.id,
            account_id=row.account_id,
            kind=EventKind(row.kind),
            at=row.at,
            duration_ms=row.duration_ms,
            detail=row.detail,
            owner=row.owner,
        )


class AccountSummary(TypedDict):
    """How many accounts there are, and how many show each badge (`AccountView.health`)."""

    total: int
    by_health: dict[str, int]


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """A usable access token for one account, as the bot receives it (R-20)."""

    account_id: int
    person_id: str
    access_token: str = field(repr=False)
    expires_at: datetime
    version: int
    status: AccountStatus


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to refresh one account, held until `lease_until` (or until released).

    `version` is the row's version after the claim: `complete_refresh` and `fail_refresh` only
    write while it is unchanged (fencing). `access_expires_at`, `obtained_at` and
    `last_refreshed_at` are re-read under the claim, so the holder can see that someone else
    refreshed in the meantime and skip its own call (R-10).
    """

    account_id: int
    person_id: str
    owner: str
    version: int
    refresh_token: str = field(repr=False)
    access_expires_at: datetime | None
    obtained_at: datetime | None
    last_refreshed_at: datetime | None
    lease_until: datetime
    # What the row said before this claim, read in the claim's own transaction: a lapsed lease
    # that was never released means its holder died mid-refresh.
    previous_lease_owner: str | None = None
    previous_lease_until: datetime | None = None
    failure_count: int = 0
    last_error: str | None = None
