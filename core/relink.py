"""Re-login links that keep the account: single-use, short-lived, bound to one Webex person.

`tokenbot accounts relink ID` and the panel's Reconnect mint a link for one account. Whoever
opens it can start the normal Webex sign-in without a panel session; the callback then only
accepts the SAME Webex person id the account already has, and stores the new grant into the
existing row (same account id, history kept, bot identity kept). Another person is refused
with nothing stored, and the link stays unused for the right person.

Only sha256 of the link's secret is stored (like login states). A link is spent by a
conditional UPDATE on ``used_at IS NULL``, so two racing callbacks cannot both use it. Minting
a new link revokes the account's older unused ones.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.errors import AccountNotFound
from tokenbot.core.errors import RelinkInvalid
from tokenbot.core.hashing import sha256_hex
from tokenbot.core.models import Account
from tokenbot.core.models import Base

__all__ = [
    "RELINK_EVENTS",
    "RelinkInvalid",
    "RelinkLink",
    "RelinkLinks",
    "RelinkView",
    "notification_links",
    "relink_path",
]

TOKEN_BYTES = 32
PATH_PREFIX = "/relink/"
# The notifications that ask for a new login carry a link when `notify.include_relink_link`.
RELINK_EVENTS = ("account.needs_reauth", "account.refresh_token_expiring")


def relink_path(token: str) -> str:
    """Return the panel path of a link."""
    return PATH_PREFIX + token


class RelinkLink(Base):
    """One minted link; only the hash of its secret is kept."""

    __tablename__ = "relink_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(sa.String(255))
    # The OAuth state of the sign-in started from this link (hashed), if one was started.
    state_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_by: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class RelinkView:
    """A usable link: which account and person it is for."""

    id: int
    account_id: int
    person_id: str
    email: str
    display_name: str
    expires_at: datetime


class RelinkLinks:
    """Mint, check, start and spend re-login links.

    Args:
        db: The database.
        clock: The time source.
    """

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def mint(self, account_id: int, *, minutes: float = 30, created_by: str = "") -> str:
        """Create a link for `account_id` valid for `minutes`; return its secret token.

        Raises:
            AccountNotFound: No account has this id.
        """
        with self.db.write() as session:
            return self.mint_in(session, account_id, minutes=minutes, created_by=created_by)

    def mint_in(
        self, session: Session, account_id: int, *, minutes: float = 30, created_by: str = ""
    ) -> str:
        """Like `mint`, in the caller's transaction (a notification written with its change).

        Raises:
            AccountNotFound: No account has this id.
        """
        now = self.clock.now()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        account = session.get(Account, account_id)
        if account is None:
            raise AccountNotFound(f"no account with id {account_id}")
        session.execute(
            sa.update(RelinkLink)
            .where(
                RelinkLink.account_id == account_id,
                RelinkLink.used_at.is_(None),
                RelinkLink.revoked_at.is_(None),
            )
            .values(revoked_at=now),
            execution_options={"synchronize_session": False},
        )
        session.add(
            RelinkLink(
                token_hash=sha256_hex(token),
                account_id=account_id,
                person_id=account.person_id,
                created_by=created_by[:255],
                created_at=now,
                expires_at=now + timedelta(minutes=minutes),
            )
        )
        return token

    def check(self, token: str) -> RelinkView:
        """Return the link of `token` if it can still be used.

        Raises:
            RelinkInvalid: unknown, used, expired or revoked.
        """
        with self.db.read() as session:
            link = self._find(session, token)
            self._usable(link)
            account = session.get(Account, link.account_id)
            if account is None or account.person_id != link.person_id:
                raise RelinkInvalid("unknown")
            return RelinkView(
                link.id,
                link.account_id,
                link.person_id,
                account.email,
                account.display_name,
                link.expires_at,
            )

    def start(self, token: str, state_hash: str) -> RelinkView:
        """Remember that a sign-in with `state_hash` was started from this link.

        Raises:
            RelinkInvalid: The link cannot be used.
        """
        view = self.check(token)
        with self.db.write() as session:
            session.execute(
                sa.update(RelinkLink).where(RelinkLink.id == view.id).values(state_hash=state_hash),
                execution_options={"synchronize_session": False},
            )
        return view

    def for_state(self, state_hash: str) -> RelinkView | None:
        """Return the link a sign-in with `state_hash` was started from, usable or not."""
        if not state_hash:
            return None
        with self.db.read() as session:
            link = session.execute(
                sa.select(RelinkLink).where(RelinkLink.state_hash == state_hash)
            ).scalar_one_or_none()
            if link is None:
                return None
            account = session.get(Account, link.account_id)
            return RelinkView(
                link.id,
                link.account_id,
                link.person_id,
                account.email if account else "",
                account.display_name if account else "",
                link.expires_at,
            )

    def status(self, link_id: int) -> str:
        """Return ``usable``, ``used``, ``expired`` or ``revoked`` for a link id."""
        with self.db.read() as session:
            link = session.get(RelinkLink, link_id)
            if link is None:
                return "unknown"
            try:
                self._usable(link)
            except RelinkInvalid as exc:
                return exc.reason
            return "usable"

    def spend(self, link_id: int) -> bool:
        """Mark the link used, once; return False if it was used, revoked or expired meanwhile."""
        now = self.clock.now()
        with self.db.write() as session:
            result = cast(
                CursorResult[Any],
                session.execute(
                    sa.update(RelinkLink)
                    .where(
                        RelinkLink.id == link_id,
                        RelinkLink.used_at.is_(None),
                        RelinkLink.revoked_at.is_(None),
                        RelinkLink.expires_at > now,
                    )
                    .values(used_at=now),
                    execution_options={"synchronize_session": False},
                ),
            )
            return result.rowcount == 1

    def revoke(self, account_id: int) -> int:
        """Revoke every unused link of an account; return how many."""
        now = self.clock.now()
        with self.db.write() as session:
            result = cast(
                CursorResult[Any],
                session.execute(
                    sa.update(RelinkLink)
                    .where(
                        RelinkLink.account_id == account_id,
                        RelinkLink.used_at.is_(None),
                        RelinkLink.revoked_at.is_(None),
                    )
                    .values(revoked_at=now),
                    execution_options={"synchronize_session": False},
                ),
            )
            return int(result.rowcount)

    def _find(self, session: Any, token: str) -> RelinkLink:
        if not token or len(token) > 200:
            raise RelinkInvalid("unknown")
        hashed = sha256_hex(token)
        link = session.execute(
            sa.select(RelinkLink).where(RelinkLink.token_hash == hashed)
        ).scalar_one_or_none()
        if link is None or not hmac.compare_digest(link.token_hash, hashed):
            raise RelinkInvalid("unknown")
        return cast(RelinkLink, link)

    def _usable(self, link: RelinkLink) -> None:
        if link.used_at is not None:
            raise RelinkInvalid("used")
        if link.revoked_at is not None:
            raise RelinkInvalid("revoked")
        if self.clock.now() >= link.expires_at:
            raise RelinkInvalid("expired")


def notification_links(
    links: RelinkLinks, *, base_url: str, minutes: float
) -> Callable[[Session, int, str], dict[str, Any]]:
    """Return the outbox's `extra_data`: a fresh link in the events that ask for a login.

    The link is minted in the transaction that records the account's change, so the event and
    its link exist together or not at all. It is a capability (whoever holds it may sign in
    with Webex AS the account's person and nobody else): it lives in the event's body until
    the outbox forgets it, is never logged, and works once, for `minutes`.
    """

    def data(session: Session, account_id: int, event_type: str) -> dict[str, Any]:
        if event_type not in RELINK_EVENTS:
            return {}
        token = links.mint_in(session, account_id, minutes=minutes, created_by="notify")
        expires = links.clock.now() + timedelta(minutes=minutes)
        return {
            "relink_url": base_url.rstrip("/") + relink_path(token),
            "relink_expires_at": expires.isoformat().replace("+00:00", "Z"),
        }

    return data
