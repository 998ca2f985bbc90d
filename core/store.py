"""The token store: accounts, their encrypted grants, refresh claims and history, in one place.

Refreshing is a lease plus a version (docs/architecture.md; R-09..R-12): `claim` is a conditional
UPDATE that only one caller wins; `complete_refresh` and `fail_refresh` write only while the
row's version is still the one the claim produced, so a writer whose lease lapsed and was taken
over is rejected (`StaleWrite`) instead of overwriting a newer refresh token. Every change and
its `token_events` row commit in one transaction.

The store is built by composition: it has a `RowAccess` (core.rows: database, cipher, clock,
policy, and the row helpers), a lease manager over the same rows (core.leases.RefreshLeases,
whose methods it forwards), and the pending OAuth logins (core.oauth_logins).

Ciphertexts are bound to their row and column (`accounts/<person_id>/access_token`), so a
value copied into another row fails to decrypt. Only `AccessGrant` and `Claim` carry plaintext.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tokenbot.core.clock import Clock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import StoreError
from tokenbot.core.leases import RefreshLeases
from tokenbot.core.logs import redact
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.models import TokenEvent
from tokenbot.core.oauth_logins import OAuthLoginStore
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.records import AccessGrant
from tokenbot.core.records import AccountSummary
from tokenbot.core.records import AccountView
from tokenbot.core.records import Claim
from tokenbot.core.records import EventView
from tokenbot.core.rotation import rotate_keys
from tokenbot.core.rows import RowAccess
from tokenbot.core.rows import token_context
from tokenbot.core.tokens import UNKNOWN_LIFETIME
from tokenbot.core.tokens import Identity
from tokenbot.core.tokens import TokenSet

log = logging.getLogger(__name__)

__all__ = ["TokenStore", "token_context"]


class TokenStore:
    """Persist accounts and their grants; hand out access tokens and refresh claims.

    The refresh-lease methods (`due_account_ids`, `claim`, `complete_refresh`, `fail_refresh`,
    `defer_after_error`, `mark_needs_reauth`, `release`, `note_refresh_token_warning`) are
    forwarded to `leases`, a `core.leases.RefreshLeases` sharing this store's `rows`.

    Args:
        db: The database (migrated to head).
        cipher: Encrypts token material; its primary key seals every new value.
        clock: The time source (a `FrozenClock` in tests).
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
        self.rows = RowAccess(db, cipher, clock=clock, policy=policy, owner=owner)
        self.leases = RefreshLeases(self.rows)
        self._logins = OAuthLoginStore(db, cipher, clock=clock)
        self._before_disconnect: list[Callable[[AccountView], None]] = []

    def before_disconnect(self, hook: Callable[[AccountView], None]) -> None:
        """Run `hook(account)` before any account's tokens are wiped, while they still work.

        The bot uses it to delete its webhook at Webex: once the token is gone, nothing could.
        A failing hook is logged and does not stop the disconnect.
        """
        self._before_disconnect.append(hook)

    @property
    def db(self) -> Database:
        """The database."""
        return self.rows.db

    @property
    def cipher(self) -> TokenCipher:
        """The cipher sealing token material."""
        return self.rows.cipher

    @property
    def clock(self) -> Clock:
        """The time source."""
        return self.rows.clock

    @property
    def policy(self) -> RefreshPolicy:
        """Expiry and refresh-ahead arithmetic."""
        return self.rows.policy

    @property
    def owner(self) -> str:
        """This process's name in events."""
        return self.rows.owner

    # --- refresh leases (core.leases) -------------------------------------------------------

    def due_account_ids(self, now: datetime, *, limit: int = 500) -> list[int]:
        """Return the ids of refreshable, unleased accounts due at `now`, oldest first."""
        return self.leases.due_account_ids(now, limit=limit)

    def claim(self, account_id: int, *, owner: str, lease_seconds: float) -> Claim | None:
        """Take the refresh lease of one account, or None when it is held or not refreshable.

        Raises:
            AccountNotFound: No account has this id.
        """
        return self.leases.claim(account_id, owner=owner, lease_seconds=lease_seconds)

    def complete_refresh(
        self, claim: Claim, tokens: TokenSet, *, sent_at: datetime, duration_ms: int | None = None
    ) -> AccountView:
        """Store the tokens a refresh returned, if the claim still holds.

        Raises:
            StaleWrite: The claim was taken over or the row changed; nothing was stored.
            PersistenceFailed: The database failed after Webex issued tokens (an alarm).
        """
        return self.leases.complete_refresh(claim, tokens, sent_at=sent_at, duration_ms=duration_ms)

    def fail_refresh(
        self,
        claim: Claim,
        *,
        error_code: str,
        message: str,
        retry_at: datetime,
        transient: bool = True,
    ) -> AccountView:
        """Record a failed refresh, release the lease and schedule the retry.

        Raises:
            StaleWrite: The claim was taken over or the row changed; nothing was stored.
        """
        return self.leases.fail_refresh(
            claim, error_code=error_code, message=message, retry_at=retry_at, transient=transient
        )

    def defer_after_error(
        self, account_id: int, *, error_code: str, message: str, retry_at: datetime
    ) -> bool:
        """Record that refreshing an unclaimed account broke on our side; retry it later."""
        return self.leases.defer_after_error(
            account_id, error_code=error_code, message=message, retry_at=retry_at
        )

    def mark_needs_reauth(self, claim_or_account_id: Claim | int, *, reason: str) -> AccountView:
        """Take an account out of refreshing until someone logs in again.

        Raises:
            AccountNotFound: No account has this id.
            StaleWrite: The claim no longer holds.
        """
        return self.leases.mark_needs_reauth(claim_or_account_id, reason=reason)

    def release(self, claim: Claim) -> None:
        """Drop the lease if it is still ours; change nothing else."""
        self.leases.release(claim)

    def note_refresh_token_warning(self, account_id: int) -> bool:
        """Record once per refresh token that it is about to expire; return whether it warned."""
        return self.leases.note_refresh_token_warning(account_id)

    # --- connecting and reading -------------------------------------------------------------

    def save_connected(
        self,
        identity: Identity,
        scopes: Sequence[str],
        tokens: TokenSet,
        *,
        sent_at: datetime,
    ) -> AccountView:
        """Store a freshly authorized grant: a new account, or new tokens for a known person.

        Args:
            identity: The person, from `/people/me`.
            scopes: The granted scopes.
            tokens: The code exchange's answer (it must carry a refresh token).
            sent_at: When the token request was sent (expiries count from it, R-14).

        Raises:
            StoreError: The token response had no refresh token.
        """
        if not tokens.refresh_token:
            raise StoreError(
                "Webex returned no refresh token for this login",
                hint="check that the integration requests offline access, then connect again",
            )
        for attempt in (1, 2):
            try:
                return self._save_connected(
                    identity, scopes, tokens, tokens.refresh_token, sent_at=sent_at
                )
            except IntegrityError:
                # Two callbacks for the same person inserted at once: the retry updates.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _save_connected(
        self,
        identity: Identity,
        scopes: Sequence[str],
        tokens: TokenSet,
        refresh_token: str,
        *,
        sent_at: datetime,
    ) -> AccountView:
        now = self.clock.now()
        access_expires_at = self.policy.access_expires_at(sent_at, tokens.expires_in)
        person_id: str = identity.person_id
        with self.db.write() as session:
            row = session.execute(
                sa.select(Account).where(Account.person_id == person_id).with_for_update()
            ).scalar_one_or_none()
            if row is None:
                kind = EventKind.CONNECTED
                row = Account(person_id=person_id, created_at=now, version=1)
                row.is_bot_identity = False
                session.add(row)
            else:
                kind = EventKind.RECONNECTED
                row.version += 1
            row.email = identity.email or ""
            row.display_name = identity.display_name or ""
            row.org_id = identity.org_id
            row.scopes = " ".join(scopes)
            row.status = AccountStatus.ACTIVE
            row.access_token_enc = self.rows.seal(person_id, "access_token", tokens.access_token)
            row.refresh_token_enc = self.rows.seal(person_id, "refresh_token", refresh_token)
            row.access_expires_at = access_expires_at
            row.refresh_expires_at = self.policy.refresh_expires_at(
                sent_at, tokens.refresh_token_expires_in
            )
            row.obtained_at = sent_at
            row.last_refreshed_at = None
            row.next_refresh_at = self.policy.refresh_due_at(sent_at, access_expires_at)
            row.refresh_warned_at = None
            row.failure_count = 0
            row.last_error = None
            row.lease_owner = None
            row.lease_until = None
            row.updated_at = now
            session.flush()
            detail = f"scopes: {row.scopes}"
            if tokens.expires_in is None:
                detail += UNKNOWN_LIFETIME
            self.rows.event(session, row.id, kind, detail, now=now)
            return AccountView.of(row)

    def get(self, account_id: int) -> AccountView:
        """Return one account.

        Raises:
            AccountNotFound: No account has this id.
        """
        with self.db.read() as session:
            return AccountView.of(self.rows.load(session, account_id))

    def get_by_person(self, person_id: str) -> AccountView | None:
        """Return the account of a Webex person id, or None."""
        with self.db.read() as session:
            row = session.execute(
                sa.select(Account).where(Account.person_id == person_id)
            ).scalar_one_or_none()
            return None if row is None else AccountView.of(row)

    def list_accounts(
        self, *, search: str | None = None, offset: int = 0, limit: int = 50
    ) -> list[AccountView]:
        """Return a page of accounts (by email), optionally matching `search` anywhere."""
        query = _search(sa.select(Account), search)
        query = query.order_by(sa.func.lower(Account.email), Account.id)
        with self.db.read() as session:
            rows = session.execute(query.offset(offset).limit(limit)).scalars()
            return [AccountView.of(row) for row in rows]

    def count_accounts(self, search: str | None = None) -> int:
        """Count the accounts `list_accounts` would page through."""
        query = _search(sa.select(sa.func.count()).select_from(Account), search)
        with self.db.read() as session:
            return int(session.execute(query).scalar_one())

    def account_summary(self, now: datetime) -> AccountSummary:
        """Count the accounts per badge at `now` in one aggregate query (no row is loaded).

        The SQL mirrors `AccountView.health`, so ten thousand accounts are counted without
        loading ten thousand rows; a test checks both agree on every case.
        """
        health = _health_case(now).label("health")
        query = sa.select(health, sa.func.count()).group_by(health)
        with self.db.read() as session:
            rows = session.execute(query).all()
        by_health = {str(name): int(count) for name, count in rows}
        return {"total": sum(by_health.values()), "by_health": by_health}

    def bot_identity(self) -> AccountView | None:
        """Return the account the bot acts as, or None when none is chosen."""
        with self.db.read() as session:
            row = session.execute(
                sa.select(Account).where(Account.is_bot_identity.is_(True))
            ).scalar_one_or_none()
            return None if row is None else AccountView.of(row)

    def set_bot_identity(self, account_id: int) -> AccountView:
        """Make `account_id` the bot's identity and clear the flag everywhere else.

        Raises:
            AccountNotFound: No account has this id.
            StoreError: The account is disconnected.
        """
        now = self.clock.now()
        with self.db.write() as session:
            row = self.rows.load(session, account_id, lock=True)
            if row.status is AccountStatus.DISCONNECTED:
                raise StoreError(
                    f"account {account_id} is disconnected", hint="connect it again first"
                )
            # Clear first: the partial unique index allows one flagged row at any moment.
            session.execute(
                sa.update(Account)
                .where(Account.is_bot_identity.is_(True), Account.id != account_id)
                .values(is_bot_identity=False, updated_at=now)
            )
            row.is_bot_identity = True
            row.updated_at = now
            session.flush()
            self.rows.event(
                session, account_id, EventKind.BOT_IDENTITY_SET, "bot identity", now=now
            )
            return AccountView.of(row)

    def access_grant(self, account_id: int) -> AccessGrant:
        """Return the account's current access token (it may be due; the caller decides).

        Raises:
            AccountNotFound: No account has this id.
            NeedsReauth: The account needs a new login or was disconnected.
            CryptoError: The stored value does not decrypt (wrong key, moved row).
        """
        with self.db.read() as session:
            row = self.rows.load(session, account_id)
            if (
                row.status in (AccountStatus.NEEDS_REAUTH, AccountStatus.DISCONNECTED)
                or row.access_token_enc is None
                or row.access_expires_at is None
            ):
                raise NeedsReauth(
                    f"account {account_id} ({row.status.value}) has no usable grant",
                    hint="log in with Webex again from the admin panel",
                )
            token = self.cipher.decrypt(
                row.access_token_enc, context=token_context(row.person_id, "access_token")
            )
            return AccessGrant(
                account_id=row.id,
                person_id=row.person_id,
                access_token=token,
                expires_at=row.access_expires_at,
                version=row.version,
                status=row.status,
            )

    def run_before_disconnect(self, account_id: int) -> AccountView:
        """Run the `before_disconnect` hooks on `account_id` now; return the account.

        `core.disconnect.disconnect_account` calls this before it revokes the grant at Webex
        (after that, the token could not delete anything either), then `disconnect(...,
        hooks=False)`.

        Raises:
            AccountNotFound: No account has this id.
        """
        view = self.get(account_id)
        for hook in self._before_disconnect:
            try:
                hook(view)
            except Exception:
                log.exception("a before-disconnect step failed for account %s", account_id)
        return view

    def disconnect(self, account_id: int, *, hooks: bool = True) -> AccountView:
        """Wipe an account's token material and stop refreshing it for good (R-18).

        Args:
            account_id: The account.
            hooks: Run the `before_disconnect` hooks first (False: the caller already did).

        Raises:
            AccountNotFound: No account has this id.
        """
        if hooks:
            self.run_before_disconnect(account_id)
        now = self.clock.now()
        with self.db.write() as session:
            row = self.rows.load(session, account_id, lock=True)
            row.access_token_enc = None
            row.refresh_token_enc = None
            row.access_expires_at = None
            row.refresh_expires_at = None
            row.next_refresh_at = None
            row.refresh_warned_at = None
            row.status = AccountStatus.DISCONNECTED
            row.is_bot_identity = False
            row.lease_owner = None
            row.lease_until = None
            row.version += 1
            row.updated_at = now
            session.flush()
            self.rows.event(session, account_id, EventKind.DISCONNECTED, "tokens wiped", now=now)
            return AccountView.of(row)

    # --- history ----------------------------------------------------------------------------

    def record_event(
        self,
        account_id: int,
        kind: EventKind,
        *,
        detail: str = "",
        duration_ms: int | None = None,
        owner: str | None = None,
    ) -> EventView:
        """Append an event to an account's history (`detail` must not hold a secret).

        Raises:
            AccountNotFound: No account has this id.
        """
        now = self.clock.now()
        with self.db.write() as session:
            self.rows.load(session, account_id)
            event = self.rows.event(
                session,
                account_id,
                EventKind(kind),
                redact(detail),
                now=now,
                duration_ms=duration_ms,
                owner=owner,
            )
            return EventView.of(event)

    def events(
        self, account_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> list[EventView]:
        """Return an account's events, newest first; page with `before_id`."""
        query = sa.select(TokenEvent).where(TokenEvent.account_id == account_id)
        if before_id is not None:
            query = query.where(TokenEvent.id < before_id)
        query = query.order_by(TokenEvent.id.desc()).limit(limit)
        with self.db.read() as session:
            return [EventView.of(row) for row in session.execute(query).scalars()]

    # --- logins and keys --------------------------------------------------------------------

    def begin_login(self, *, session_binding: str, verifier: str) -> str:
        """Create a pending login and return its fresh `state` (see `OAuthLoginStore.begin`)."""
        return self._logins.begin(session_binding=session_binding, verifier=verifier)

    def consume_login(
        self, state: str, *, session_binding: str, max_age_seconds: float = 600
    ) -> str:
        """Use up a pending login once and return its PKCE verifier (see `OAuthLoginStore.consume`).

        Raises:
            LoginStateInvalid: missing, unknown, foreign, expired or replayed state.
        """
        return self._logins.consume(
            state, session_binding=session_binding, max_age_seconds=max_age_seconds
        )

    def purge_logins(self, older_than: datetime) -> int:
        """Delete pending logins created before `older_than`; return how many."""
        return self._logins.purge(older_than)

    def rotate_keys(self, *, batch_size: int = 200) -> int:
        """Re-encrypt every value not under the primary key; return how many changed.

        Records one `keys_rotated` event per account touched (see `core.rotation`).
        """
        return rotate_keys(
            self.db, self.cipher, clock=self.clock, owner=self.owner, batch_size=batch_size
        )


def _health_case(now: datetime) -> sa.ColumnElement[str]:
    # Same order as AccountView.health: the worst badge wins.
    no_tokens = sa.or_(Account.access_token_enc.is_(None), Account.refresh_token_enc.is_(None))
    due = sa.or_(
        sa.and_(Account.next_refresh_at.is_not(None), Account.next_refresh_at <= now),
        Account.access_expires_at.is_(None),
        Account.access_expires_at <= now,
    )
    return sa.case(
        (Account.status == AccountStatus.DISCONNECTED, "disconnected"),
        (sa.or_(Account.status == AccountStatus.NEEDS_REAUTH, no_tokens), "needs_reauth"),
        (Account.status == AccountStatus.REFRESH_FAILING, "failing"),
        (due, "refresh_due"),
        else_="healthy",
    )


def _search(query: sa.Select[Any], search: str | None) -> sa.Select[Any]:
    if not search or not search.strip():
        return query
    needle = search.strip().lower()
    return query.where(
        sa.or_(
            sa.func.lower(Account.email).contains(needle, autoescape=True),
            sa.func.lower(Account.display_name).contains(needle, autoescape=True),
            Account.person_id.contains(search.strip(), autoescape=True),
        )
    )
