"""What the token store's parts share: row lookups, fenced updates, events, sealing.

`TokenStore` (core.store) has one `RowAccess` and hands it to its lease manager
(core.leases.RefreshLeases), so both read and write accounts the same way; nothing outside
those modules uses this one directly.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from tokenbot.core.clock import Clock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.errors import StaleWrite
from tokenbot.core.logs import redact
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.models import TokenEvent
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.records import Claim

__all__ = ["REFRESHABLE", "RowAccess", "claimable", "execute_update", "holds", "token_context"]

REFRESHABLE = (AccountStatus.ACTIVE, AccountStatus.REFRESH_FAILING)
_MAX_ERROR_CHARS = 500
# Ids are 64-bit signed integers in every database we support.
_MIN_ID = -(2**63)
_MAX_ID = 2**63 - 1


def claimable(now: datetime) -> sa.ColumnElement[bool]:
    """Return the condition of an account someone may claim at `now`: refreshable, lease free."""
    return sa.and_(
        Account.status.in_(REFRESHABLE),
        sa.or_(Account.lease_until.is_(None), Account.lease_until < now),
    )


def holds(claim: Claim) -> sa.ColumnElement[bool]:
    """Return the condition that `claim` still holds: same account, owner and version."""
    return sa.and_(
        Account.id == claim.account_id,
        Account.lease_owner == claim.owner,
        Account.version == claim.version,
    )


def token_context(person_id: str, column: str) -> str:
    """Return the associated data that binds a token ciphertext to its row and column."""
    return f"accounts/{person_id}/{column}"


class RowAccess:
    """The database, cipher, clock and policy of a store, and the helpers that use them.

    Args:
        db: The database (migrated to head).
        cipher: Encrypts token material; its primary key seals every new value.
        clock: The time source.
        policy: Expiry and refresh-ahead arithmetic.
        owner: Names this process in events (default `host:pid`).
    """

    def __init__(
        self,
        db: Database,
        cipher: TokenCipher,
        *,
        clock: Clock,
        policy: RefreshPolicy,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.clock = clock
        self.policy = policy
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        # Called with every history event inside its transaction (core.notify's outbox).
        self.on_event: Callable[[Session, int, EventKind, str, datetime], None] | None = None

    def seal(self, person_id: str, column: str, plaintext: str) -> str:
        """Encrypt `plaintext` for `column` of the account of `person_id`."""
        return self.cipher.encrypt(plaintext, context=token_context(person_id, column))

    @staticmethod
    def scrub(text: str, claim: Claim | None) -> str:
        """Return `text` fit to store: no refresh token of `claim`, nothing token-shaped."""
        if claim is not None:
            text = text.replace(claim.refresh_token, "[refresh token]")
        return redact(text)[:_MAX_ERROR_CHARS]

    @staticmethod
    def load(
        session: Session, account_id: int, *, lock: bool = False, fresh: bool = False
    ) -> Account:
        """Return the account row `account_id`, locked or re-read from the database if asked.

        Raises:
            AccountNotFound: No account has this id.
        """
        if not _MIN_ID <= account_id <= _MAX_ID:
            # No row can have it, and SQLite would raise OverflowError binding it (a URL such
            # as /accounts/99999999999999999999 would end in a 500).
            raise AccountNotFound(f"no account with id {account_id}")
        query = sa.select(Account).where(Account.id == account_id)
        if lock:
            query = query.with_for_update()
        if fresh:
            query = query.execution_options(populate_existing=True)
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            raise AccountNotFound(f"no account with id {account_id}")
        return row

    @staticmethod
    def fenced_update(session: Session, claim: Claim, values: dict[str, Any]) -> None:
        """Apply `values` only if the claim's owner and version still hold; else StaleWrite."""
        result = execute_update(
            session,
            sa.update(Account).where(holds(claim)).values(**values),
        )
        if result.rowcount != 1:
            raise StaleWrite(
                f"the refresh claim on account {claim.account_id} by {claim.owner!r} "
                "no longer holds; nothing was stored",
                hint="another refresher took over; read the account again",
            )

    def event(
        self,
        session: Session,
        account_id: int,
        kind: EventKind,
        detail: str,
        *,
        now: datetime,
        duration_ms: int | None = None,
        owner: str | None = None,
    ) -> TokenEvent:
        """Append a `token_events` row in `session` (by default in this process's name)."""
        event = TokenEvent(
            account_id=account_id,
            kind=kind,
            at=now,
            duration_ms=duration_ms,
            detail=detail,
            owner=owner or self.owner,
        )
        session.add(event)
        session.flush()
        if self.on_event is not None:
            self.on_event(session, account_id, kind, detail, now)
        return event


def execute_update(session: Session, statement: sa.Update) -> CursorResult[Any]:
    """Run a Core UPDATE in `session` and return its result (for `rowcount`)."""
    # Core UPDATEs through the session: rowcount is what the fencing rests on, and the ORM's
    # identity map must not be "synchronized" with values computed in SQL.
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return cast(CursorResult[Any], result)
