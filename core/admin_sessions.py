"""Server-side sessions of logged-in panel admins: the cookie holds an id, the table its hash.

Session ids are 256-bit random values stored only as SHA-256 hashes (a fast hash is enough for
values that cannot be guessed). Being rows, sessions are shared by every panel process, and a
logout or password change ends them everywhere (R-24).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from tokenbot.core.admin_accounts import AdminPrincipal
from tokenbot.core.admin_accounts import AdminUser
from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.hashing import sha256_hex
from tokenbot.core.models import Base

__all__ = ["AdminSession", "AdminSessions"]

# A session's last_seen_at is written at most this often: the dashboard polls every few
# seconds, and a write per poll would serialize readers behind SQLite's write lock for nothing.
_TOUCH_SECONDS = 30


class AdminSession(Base):
    """A logged-in browser: the cookie holds the id, the table only its SHA-256."""

    __tablename__ = "admin_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    admin_id: Mapped[int] = mapped_column(
        sa.ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime]


class AdminSessions:
    """Start, resolve, end and purge admin sessions in `database`."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def start(self, admin_id: int) -> str:
        """Create a server-side session for `admin_id` and return its opaque id (for a cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._db.write() as session:
            session.add(
                AdminSession(
                    id_hash=sha256_hex(session_id),
                    admin_id=admin_id,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return session_id

    def resolve(
        self, session_id: str, *, idle_seconds: int, absolute_seconds: int
    ) -> AdminPrincipal | None:
        """Return who owns `session_id`, or None when it is unknown, idle or too old.

        An expired session is deleted, so its cookie can never come back to life.
        """
        if not session_id:
            return None
        now = self._clock.now()
        id_hash = sha256_hex(session_id)
        with self._db.read() as session:
            row = session.execute(
                sa.select(AdminSession, AdminUser.username)
                .join(AdminUser, AdminUser.id == AdminSession.admin_id)
                .where(AdminSession.id_hash == id_hash)
            ).first()
        if row is None:
            return None
        stored, username = row
        idle_end = stored.last_seen_at + timedelta(seconds=idle_seconds)
        absolute_end = stored.created_at + timedelta(seconds=absolute_seconds)
        if now >= idle_end or now >= absolute_end:
            self.end(session_id)
            return None
        if (now - stored.last_seen_at).total_seconds() >= min(_TOUCH_SECONDS, idle_seconds / 10):
            with self._db.write() as session:
                session.execute(
                    sa.update(AdminSession)
                    .where(AdminSession.id_hash == id_hash)
                    .values(last_seen_at=now)
                )
        return AdminPrincipal(admin_id=stored.admin_id, username=str(username))

    def end(self, session_id: str) -> None:
        """Invalidate `session_id` on the server (logout)."""
        with self._db.write() as session:
            session.execute(
                sa.delete(AdminSession).where(AdminSession.id_hash == sha256_hex(session_id))
            )

    @staticmethod
    def end_all_of(session: Session, admin_id: int) -> None:
        """End every session of `admin_id` inside the caller's transaction."""
        session.execute(sa.delete(AdminSession).where(AdminSession.admin_id == admin_id))

    def purge_expired(self, *, idle_seconds: int, absolute_seconds: int) -> int:
        """Delete sessions past either timeout; return how many."""
        now = self._clock.now()
        with self._db.write() as session:
            result = session.execute(
                sa.delete(AdminSession).where(
                    sa.or_(
                        AdminSession.last_seen_at <= now - timedelta(seconds=idle_seconds),
                        AdminSession.created_at <= now - timedelta(seconds=absolute_seconds),
                    )
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
