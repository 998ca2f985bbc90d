"""The token store: accounts, their encrypted grants, refresh claims and history, in one place.

Refreshing is a lease plus a version (DESIGN.md §4.3, R-09..R-12): `claim` is a conditional
UPDATE that only one caller wins; `complete_refresh` and `fail_refresh` write only while the
row's version is still the one the claim produced, so a writer whose lease lapsed and was taken
over is rejected (`StaleWrite`) instead of overwriting a newer refresh token. Every change and
its `token_events` row commit in one transaction.

Ciphertexts are bound to their row and column (`accounts/<person_id>/access_token`), so a
value copied into another row fails to decrypt. Only `AccessGrant` and `Claim` carry plaintext.
"""

from __future__ import annotations

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
from tokenbot.core.records import AccountView
from tokenbot.core.records import EventView
from tokenbot.core.rotation import rotate_keys
from tokenbot.core.rows import token_context
from tokenbot.core.tokens import UNKNOWN_LIFETIME
from tokenbot.core.tokens import Identity
from tokenbot.core.tokens import TokenSet

__all__ = ["TokenStore", "token_context"]


class TokenStore(RefreshLeases):
    """Persist accounts and their grants; hand out access tokens and refresh claims.

    The refresh-lease methods (`due_account_ids`, `claim`, `complete_refresh`, `fail_refresh`,
    `mark_needs_reauth`, `release`, `note_refresh_token_warning`) come from
    `core.leases.RefreshLeases`.

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
        super().__init__(db, cipher, clock=clock, policy=policy, owner=owner)
        self._logins = OAuthLoginStore(db, cipher, clock=clock)

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
            row.access_token_enc = self._seal(person_id, "access_token", tokens.access_token)
            row.refresh_token_enc = self._seal(person_id, "refresh_token", refresh_token)
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
            self._event(session, row.id, kind, detail, now=now)
            return AccountView.of(row)

    def get(self, account_id: int) -> AccountView:
        """Return one account.

        Raises:
            AccountNotFound: No account has this id.
        """
        with self.db.read() as session:
            return AccountView.of(self._row(session, account_id))

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
            row = self._row(session, account_id, lock=True)
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
            self._event(session, account_id, EventKind.BOT_IDENTITY_SET, "bot identity", now=now)
            return AccountView.of(row)

    def access_grant(self, account_id: int) -> AccessGrant:
        """Return the account's current access token (it may be due; the caller decides).

        Raises:
            AccountNotFound: No account has this id.
            NeedsReauth: The account needs a new login or was disconnected.
            CryptoError: The stored value does not decrypt (wrong key, moved row).
        """
        with self.db.read() as session:
            row = self._row(session, account_id)
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

    def disconnect(self, account_id: int) -> AccountView:
        """Wipe an account's token material and stop refreshing it for good (R-18).

        Raises:
            AccountNotFound: No account has this id.
        """
        now = self.clock.now()
        with self.db.write() as session:
            row = self._row(session, account_id, lock=True)
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
            self._event(session, account_id, EventKind.DISCONNECTED, "tokens wiped", now=now)
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
            self._row(session, account_id)
            event = self._event(
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
