"""Refresh leases: who may refresh an account now, and what their result may overwrite.

A claim is a conditional UPDATE that only one caller wins (status refreshable, lease free or
lapsed), and it bumps the row's version. `complete_refresh`, `fail_refresh` and a claimed
`mark_needs_reauth` write only while owner and version are still the claim's, so a refresher
whose lease lapsed and was taken over gets `StaleWrite` instead of overwriting a newer refresh
token (R-09, R-10, R-11, R-12; Kleppmann's fencing tokens).

`RefreshLeases` is one part of `TokenStore` (core.store): the store has one and forwards its
lease methods to it. Both share one `RowAccess` (core.rows).
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import cast

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from tokenbot.core.errors import PersistenceFailed
from tokenbot.core.errors import StoreError
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.records import AccountView
from tokenbot.core.records import Claim
from tokenbot.core.rows import REFRESHABLE
from tokenbot.core.rows import RowAccess
from tokenbot.core.rows import claimable
from tokenbot.core.rows import execute_update
from tokenbot.core.rows import holds
from tokenbot.core.rows import token_context
from tokenbot.core.tokens import UNKNOWN_LIFETIME
from tokenbot.core.tokens import TokenSet

__all__ = ["RefreshLeases", "due_query"]


def due_query(now: datetime, *, limit: int = 500) -> sa.Select[int]:
    """Return the sweep's query: refreshable, unleased accounts due at `now`, oldest first."""
    return (
        sa.select(Account.id)
        .where(Account.next_refresh_at <= now, claimable(now))
        .order_by(Account.next_refresh_at)
        .limit(limit)
    )


class RefreshLeases:
    """Claim, complete, fail and release refreshes; find what is due.

    Args:
        rows: The store's row access (database, cipher, clock, policy, owner).
    """

    def __init__(self, rows: RowAccess) -> None:
        self.rows = rows

    def due_account_ids(self, now: datetime, *, limit: int = 500) -> list[int]:
        """Return the ids of refreshable, unleased accounts whose refresh is due, oldest first.

        One query on the `next_refresh_at` index: accounts that need a login or were
        disconnected have no `next_refresh_at` and are never scanned.
        """
        query = due_query(now, limit=limit)
        with self.rows.db.read() as session:
            return list(session.execute(query).scalars())

    def claim(self, account_id: int, *, owner: str, lease_seconds: float) -> Claim | None:
        """Take the refresh lease of one account, or return None when someone else holds it.

        Returns None too when the account is not refreshable (needs a login, disconnected).
        The returned `Claim` is re-read under the lease: compare its `obtained_at` with what
        made you claim, and skip the refresh if someone else just did it (R-10).

        Raises:
            AccountNotFound: No account has this id.
        """
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        now = self.rows.clock.now()
        lease_until = now + timedelta(seconds=lease_seconds)
        with self.rows.db.write() as session:
            prior = session.execute(
                sa.select(Account.lease_owner, Account.lease_until).where(Account.id == account_id)
            ).one_or_none()
            if prior is None:
                self.rows.load(session, account_id)  # raises AccountNotFound
            result = execute_update(
                session,
                sa.update(Account)
                .where(Account.id == account_id, claimable(now))
                .values(
                    lease_owner=owner,
                    lease_until=lease_until,
                    version=Account.version + 1,
                    updated_at=now,
                ),
            )
            if result.rowcount != 1:
                self.rows.load(session, account_id)  # raises AccountNotFound
                return None
            row = self.rows.load(session, account_id, fresh=True)
            if row.refresh_token_enc is None:
                raise StoreError(f"account {account_id} has no refresh token to use")
            return Claim(
                account_id=row.id,
                person_id=row.person_id,
                owner=owner,
                version=row.version,
                refresh_token=self.rows.cipher.decrypt(
                    row.refresh_token_enc, context=token_context(row.person_id, "refresh_token")
                ),
                access_expires_at=row.access_expires_at,
                obtained_at=row.obtained_at,
                last_refreshed_at=row.last_refreshed_at,
                lease_until=lease_until,
                previous_lease_owner=prior.lease_owner if prior is not None else None,
                previous_lease_until=prior.lease_until if prior is not None else None,
                failure_count=row.failure_count,
                last_error=row.last_error,
            )

    def complete_refresh(
        self, claim: Claim, tokens: TokenSet, *, sent_at: datetime, duration_ms: int | None = None
    ) -> AccountView:
        """Store the tokens a refresh returned, if the claim still holds (one transaction).

        A response without a refresh token keeps the stored one (R-11).

        Raises:
            StaleWrite: The claim was taken over or the row changed; nothing was stored.
            PersistenceFailed: The database failed: Webex issued tokens we did not keep. An
                alarm (R-12): the new access token must not be used.
        """
        now = self.rows.clock.now()
        access_expires_at = self.rows.policy.access_expires_at(sent_at, tokens.expires_in)
        refresh_expires_at = self.rows.policy.refresh_expires_at(
            sent_at, tokens.refresh_token_expires_in
        )
        values: dict[str, Any] = {
            "access_token_enc": self.rows.seal(
                claim.person_id, "access_token", tokens.access_token
            ),
            "access_expires_at": access_expires_at,
            "obtained_at": sent_at,
            "last_refreshed_at": sent_at,
            "next_refresh_at": self.rows.policy.refresh_due_at(sent_at, access_expires_at),
            "failure_count": 0,
            "last_error": None,
            "status": AccountStatus.ACTIVE,
            "lease_owner": None,
            "lease_until": None,
            "version": claim.version + 1,
            "updated_at": now,
        }
        if tokens.refresh_token:
            values["refresh_token_enc"] = self.rows.seal(
                claim.person_id, "refresh_token", tokens.refresh_token
            )
        if tokens.refresh_token or refresh_expires_at is not None:
            values["refresh_expires_at"] = refresh_expires_at
            # Warn again only about a refresh token that is new or newly close to expiry.
            if tokens.refresh_token or not self.rows.policy.refresh_token_warning(
                now, refresh_expires_at
            ):
                values["refresh_warned_at"] = None
        try:
            with self.rows.db.write() as session:
                self.rows.fenced_update(session, claim, values)
                self.rows.event(
                    session,
                    claim.account_id,
                    EventKind.REFRESHED,
                    ("new refresh token" if tokens.refresh_token else "refresh token kept")
                    + (UNKNOWN_LIFETIME if tokens.expires_in is None else ""),
                    now=now,
                    duration_ms=duration_ms,
                    owner=claim.owner,
                )
                return AccountView.of(self.rows.load(session, claim.account_id, fresh=True))
        except SQLAlchemyError as exc:
            raise PersistenceFailed(
                f"refreshed tokens for account {claim.account_id} could not be stored",
                hint="the database failed after Webex issued new tokens; check it, then refresh",
            ) from exc

    def fail_refresh(
        self,
        claim: Claim,
        *,
        error_code: str,
        message: str,
        retry_at: datetime,
        transient: bool = True,
    ) -> AccountView:
        """Record a failed refresh, release the lease and schedule the retry at `retry_at`.

        Raises:
            StaleWrite: The claim was taken over or the row changed; nothing was stored.
        """
        now = self.rows.clock.now()
        error = self.rows.scrub(f"{error_code}: {message}", claim)
        with self.rows.db.write() as session:
            self.rows.fenced_update(
                session,
                claim,
                {
                    "failure_count": Account.failure_count + 1,
                    "last_error": error,
                    "next_refresh_at": retry_at,
                    "status": AccountStatus.REFRESH_FAILING,
                    "lease_owner": None,
                    "lease_until": None,
                    "version": claim.version + 1,
                    "updated_at": now,
                },
            )
            kind_note = "transient" if transient else "permanent"
            self.rows.event(
                session,
                claim.account_id,
                EventKind.REFRESH_FAILED,
                f"{kind_note}: {error}; retry at {retry_at.isoformat()}",
                now=now,
                owner=claim.owner,
            )
            return AccountView.of(self.rows.load(session, claim.account_id, fresh=True))

    def defer_after_error(
        self, account_id: int, *, error_code: str, message: str, retry_at: datetime
    ) -> bool:
        """Record that refreshing an unclaimed account broke on our side, and retry it later.

        For failures before any claim could be held (a value that does not decrypt, a bug):
        the panel shows the account failing with the error instead of a silent retry every
        sweep. Leaves a leased account alone. Returns whether it recorded.
        """
        now = self.rows.clock.now()
        error = self.rows.scrub(f"{error_code}: {message}", None)
        with self.rows.db.write() as session:
            result = execute_update(
                session,
                sa.update(Account)
                .where(Account.id == account_id, claimable(now))
                .values(
                    failure_count=Account.failure_count + 1,
                    last_error=error,
                    next_refresh_at=retry_at,
                    status=AccountStatus.REFRESH_FAILING,
                    version=Account.version + 1,
                    updated_at=now,
                ),
            )
            if result.rowcount != 1:
                return False
            self.rows.event(
                session,
                account_id,
                EventKind.REFRESH_FAILED,
                f"internal: {error}; retry at {retry_at.isoformat()}",
                now=now,
                owner=self.rows.owner,
            )
            return True

    def mark_needs_reauth(self, claim_or_account_id: Claim | int, *, reason: str) -> AccountView:
        """Take an account out of refreshing until someone logs in again.

        The token ciphertexts are wiped: a rejected grant is useless, and less material at
        rest is less to leak. Given a `Claim`, the write is fenced like `complete_refresh`, so
        an `invalid_grant` that only means "someone else already rotated" is rejected with
        `StaleWrite` instead of locking a healthy account out (F-7).

        Raises:
            AccountNotFound: No account has this id.
            StaleWrite: The claim no longer holds.
        """
        now = self.rows.clock.now()
        claim = claim_or_account_id if isinstance(claim_or_account_id, Claim) else None
        account_id = claim.account_id if claim else cast(int, claim_or_account_id)
        reason = self.rows.scrub(reason, claim)
        values: dict[str, Any] = {
            "status": AccountStatus.NEEDS_REAUTH,
            "access_token_enc": None,
            "refresh_token_enc": None,
            "next_refresh_at": None,
            "last_error": reason,
            "lease_owner": None,
            "lease_until": None,
            "updated_at": now,
        }
        with self.rows.db.write() as session:
            if claim is not None:
                self.rows.fenced_update(session, claim, {**values, "version": claim.version + 1})
            else:
                row = self.rows.load(session, account_id, lock=True)
                execute_update(
                    session,
                    sa.update(Account)
                    .where(Account.id == account_id)
                    .values(**values, version=row.version + 1),
                )
            self.rows.event(
                session,
                account_id,
                EventKind.NEEDS_REAUTH,
                reason,
                now=now,
                owner=claim.owner if claim else None,
            )
            return AccountView.of(self.rows.load(session, account_id, fresh=True))

    def release(self, claim: Claim) -> None:
        """Drop the lease if it is still ours; change nothing else."""
        with self.rows.db.write() as session:
            execute_update(
                session,
                sa.update(Account).where(holds(claim)).values(lease_owner=None, lease_until=None),
            )

    def note_refresh_token_warning(self, account_id: int) -> bool:
        """Record once per refresh token that it is about to expire; return whether it warned."""
        now = self.rows.clock.now()
        with self.rows.db.write() as session:
            row = self.rows.load(session, account_id, lock=True)
            if (
                row.status not in REFRESHABLE
                or row.refresh_warned_at is not None
                or not self.rows.policy.refresh_token_warning(now, row.refresh_expires_at)
            ):
                return False
            row.refresh_warned_at = now
            assert row.refresh_expires_at is not None
            left = row.refresh_expires_at - now
            self.rows.event(
                session,
                account_id,
                EventKind.REFRESH_TOKEN_EXPIRING,
                f"refresh token expires {row.refresh_expires_at.isoformat()} "
                f"(in {left.days} d {left.seconds // 3600} h): log in with Webex again",
                now=now,
            )
            return True
