"""The crowd: many sandbox people in the emulator, and their accounts, due, in our database.

The emulator's default sandbox has four people; refreshing at scale needs one person per
account (`accounts.person_id` is unique). `crowd_seed` adds `CROWD_SIZE` people to the default
seed; `connect_due` mints a grant for each through the control API and stores it with the real
`TokenStore`, with a ten-minute access token: inside the fifteen-minute margin, so due at once.
`ledger` reads back, straight from the tables, what happened to every account.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

import sqlalchemy as sa

from tokenbot.core.models import Account
from tokenbot.core.models import EventKind
from tokenbot.core.models import TokenEvent
from tokenbot.core.tokens import Identity
from tokenbot.core.tokens import TokenSet
from tokenbot.emulator.seed import DEFAULT_SEED

if TYPE_CHECKING:
    from tests.plugins.emulator import EmulatorHandle
    from tokenbot.core.db import Database
    from tokenbot.core.store import TokenStore

CROWD_SIZE = 1000
# Shorter than refresh.margin_seconds (900): a token minted with it is due the moment it is
# stored. Webex's real lifetime comes back for every later token.
DUE_LIFETIME = 600
WEBEX_LIFETIME = 1209599
SCOPES = ("spark:people_read", "spark:messages_read", "spark:messages_write")


def crowd_email(number: int) -> str:
    """Return the email of crowd member `number` (1-based)."""
    return f"user{number:04d}@example.com"


def crowd_emails(count: int) -> list[str]:
    """Return the emails of the first `count` crowd members."""
    if count > CROWD_SIZE:
        raise ValueError(f"the crowd has {CROWD_SIZE} people, {count} asked for")
    return [crowd_email(n) for n in range(1, count + 1)]


def crowd_seed() -> dict[str, Any]:
    """Return the emulator seed: the default sandbox plus `CROWD_SIZE` people."""
    people = copy.deepcopy(DEFAULT_SEED["people"])
    people += [
        {"email": crowd_email(n), "displayName": f"User {n:04d}"} for n in range(1, CROWD_SIZE + 1)
    ]
    return {"people": people}


def connect_due(
    store: TokenStore,
    emulator: EmulatorHandle,
    client_id: str,
    emails: Iterable[str],
    *,
    now: datetime,
) -> list[int]:
    """Mint a grant for each person and store it as a connected account that is due now.

    Returns:
        The account ids, in the order of `emails`.
    """
    emails = list(emails)
    people = {p["emails"][0]: p for p in emulator.control("GET", "people")["items"]}
    emulator.settings(access_token_lifetime=DUE_LIFETIME)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            minted = list(
                pool.map(lambda email: emulator.mint_token(client_id, email, list(SCOPES)), emails)
            )
    finally:
        emulator.settings(access_token_lifetime=WEBEX_LIFETIME)
    ids = []
    for email, answer in zip(emails, minted, strict=True):
        person = people[email]
        identity = Identity(person_id=person["id"], email=email, display_name=person["displayName"])
        tokens = TokenSet(
            access_token=answer["access_token"],
            expires_in=int(answer["expires_in"]),
            refresh_token=answer["refresh_token"],
            refresh_token_expires_in=int(answer["refresh_token_expires_in"]),
        )
        ids.append(store.save_connected(identity, SCOPES, tokens, sent_at=now).id)
    return ids


@dataclass(frozen=True)
class Ledger:
    """Every account's status and refresh history, read from the tables.

    Attributes:
        status: Account id -> status value.
        refreshed: Account id -> number of `refreshed` events.
        needs_reauth: Account id -> number of `needs_reauth` events.
        leased: Ids of accounts whose refresh lease is held (by anyone, expired or not).
        reasons: Account id -> last error, for accounts that need a login.
        access_expires_at: Account id -> access token expiry.
    """

    status: dict[int, str]
    refreshed: Counter[int]
    needs_reauth: Counter[int]
    leased: frozenset[int]
    reasons: dict[int, str | None]
    access_expires_at: dict[int, datetime | None]

    def refreshed_once(self, ids: Iterable[int]) -> bool:
        """Tell whether each of `ids` has exactly one `refreshed` event."""
        return all(self.refreshed[i] == 1 for i in ids)

    def settled(self, ids: Iterable[int]) -> bool:
        """Tell whether each of `ids` was refreshed or ended needing a login."""
        return all(self.refreshed[i] >= 1 or self.status[i] == "needs_reauth" for i in ids)

    def total_refreshed(self) -> int:
        """Return how many `refreshed` events there are in all."""
        return sum(self.refreshed.values())


def ledger(database: Database) -> Ledger:
    """Read every account's status and event counts in one transaction."""
    with database.read() as session:
        accounts = session.execute(
            sa.select(
                Account.id,
                Account.status,
                Account.lease_owner,
                Account.last_error,
                Account.access_expires_at,
            )
        ).all()
        events = session.execute(
            sa.select(TokenEvent.account_id, TokenEvent.kind, sa.func.count())
            .where(TokenEvent.kind.in_([EventKind.REFRESHED, EventKind.NEEDS_REAUTH]))
            .group_by(TokenEvent.account_id, TokenEvent.kind)
        ).all()
    refreshed: Counter[int] = Counter()
    reauth: Counter[int] = Counter()
    for account_id, kind, count in events:
        (refreshed if kind == EventKind.REFRESHED else reauth)[account_id] = count
    return Ledger(
        status={row.id: str(row.status.value) for row in accounts},
        refreshed=refreshed,
        needs_reauth=reauth,
        leased=frozenset(row.id for row in accounts if row.lease_owner is not None),
        reasons={row.id: row.last_error for row in accounts if row.status == "needs_reauth"},
        access_expires_at={row.id: row.access_expires_at for row in accounts},
    )


def answered_refreshes(emulator: EmulatorHandle) -> int:
    """Return how many refresh_token calls the emulator answered with new tokens (200)."""
    return sum(
        1
        for call in emulator.calls("/v1/access_token")
        if call.get("grant_type") == "refresh_token" and call.get("status") == 200
    )


BOT_SCOPES = (
    "spark:people_read",
    "spark:rooms_read",
    "spark:messages_read",
    "spark:messages_write",
)


def connect_bot_identity(
    store: TokenStore,
    emulator: EmulatorHandle,
    client_id: str,
    *,
    now: datetime,
    email: str = "alice@example.com",
    scopes: tuple[str, ...] = BOT_SCOPES,
) -> int:
    """Store `email` with a fresh (not due) grant and make it the bot identity; return its id."""
    person = emulator.person(email)
    answer = emulator.mint_token(client_id, email, list(scopes))
    tokens = TokenSet(
        access_token=answer["access_token"],
        expires_in=int(answer["expires_in"]),
        refresh_token=answer["refresh_token"],
        refresh_token_expires_in=int(answer["refresh_token_expires_in"]),
    )
    identity = Identity(person_id=person["id"], email=email, display_name=person["displayName"])
    account = store.save_connected(identity, scopes, tokens, sent_at=now)
    store.set_bot_identity(account.id)
    return account.id
