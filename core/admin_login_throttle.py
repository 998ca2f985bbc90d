"""Count failed logins per username and per client address, in a fixed window, in the database.

Rows are keyed by SHA-256 hashes (``user:<hash>``, ``ip:<hash>``), so the table names neither
the usernames tried nor the addresses they came from. An unknown username is counted exactly
like a known one: throttling must not reveal which usernames exist (ASVS 6.3.8). Being data,
the counts are shared by every panel process (R-27). `LoginLimiter` is the front core.admins
uses; the session-level functions below it are its parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.hashing import sha256_hex
from tokenbot.core.models import Base

__all__ = [
    "LoginLimiter",
    "LoginThrottle",
    "ThrottleLimit",
    "count_failure",
    "forget",
    "purge_throttles",
    "retry_after",
    "throttle_key",
]


class LoginThrottle(Base):
    """Failed logins counted in a fixed window, per username hash or per client address hash."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class ThrottleLimit:
    """At most `failures` failed logins per `window_seconds`."""

    failures: int
    window_seconds: int


def throttle_key(kind: str, value: str) -> str:
    """Return the row key for `value` of `kind` ("user" or "ip"): a hash, never the value."""
    return f"{kind}:{sha256_hex(value)}"


def retry_after(session: Session, keys: Sequence[tuple[str, ThrottleLimit]], now: datetime) -> int:
    """Return the seconds to wait before any of `keys` may try again (0: go ahead)."""
    rows = {
        row.key: row
        for row in session.scalars(
            sa.select(LoginThrottle).where(LoginThrottle.key.in_([key for key, _ in keys]))
        )
    }
    wait = 0
    for key, limit in keys:
        row = rows.get(key)
        if row is None or row.failures < limit.failures:
            continue
        ends = row.window_started_at + timedelta(seconds=limit.window_seconds)
        if ends > now:
            wait = max(wait, int((ends - now).total_seconds()) + 1)
    return wait


def count_failure(session: Session, key: str, limit: ThrottleLimit, now: datetime) -> None:
    """Count one failure for `key`, starting a new window when the last one has ended."""
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(LoginThrottle(key=key, failures=1, window_started_at=now))
            return
        except IntegrityError:
            # Another process counted this key's first failure at the same moment.
            row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row is None:
            return
    window_end = row.window_started_at + timedelta(seconds=limit.window_seconds)
    if window_end <= now:
        row.failures = 1
        row.window_started_at = now
    else:
        row.failures += 1


def forget(session: Session, key: str) -> None:
    """Drop the count of `key` (after a successful login)."""
    session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == key))


def purge_throttles(session: Session, before: datetime) -> None:
    """Delete counts whose window started before `before`."""
    session.execute(sa.delete(LoginThrottle).where(LoginThrottle.window_started_at <= before))


class LoginLimiter:
    """Say whether a login may be tried, and count the failures, per username and address.

    Args:
        database: The database holding `login_throttles`.
        clock: The time source.
        user_limit: Failed logins allowed per username in a window.
        ip_limit: Failed logins allowed per client address in a window.
    """

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        user_limit: ThrottleLimit | None = None,
        ip_limit: ThrottleLimit | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self.user_limit = user_limit or ThrottleLimit(failures=10, window_seconds=900)
        self.ip_limit = ip_limit or ThrottleLimit(failures=50, window_seconds=900)

    def _keys(self, username: str, client_ip: str) -> tuple[tuple[str, ThrottleLimit], ...]:
        return (
            (throttle_key("user", username), self.user_limit),
            (throttle_key("ip", client_ip), self.ip_limit),
        )

    def retry_after(self, username: str, client_ip: str) -> int:
        """Return the seconds before `username` from `client_ip` may try again (0: go ahead)."""
        with self._db.read() as session:
            return retry_after(session, self._keys(username, client_ip), self._clock.now())

    def count_failure(self, username: str, client_ip: str) -> None:
        """Count one failed login against both the username and the address."""
        now = self._clock.now()
        with self._db.write() as session:
            for key, limit in self._keys(username, client_ip):
                count_failure(session, key, limit, now)

    def forget_user(self, username: str) -> None:
        """Clear the count of `username` after a success.

        The address keeps its count, so one valid account cannot be used to reset guessing
        against the others.
        """
        with self._db.write() as session:
            forget(session, throttle_key("user", username))

    def purge(self, *, older_than_seconds: int = 86400) -> None:
        """Delete counts whose window started more than `older_than_seconds` ago."""
        with self._db.write() as session:
            purge_throttles(session, self._clock.now() - timedelta(seconds=older_than_seconds))
