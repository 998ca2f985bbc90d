"""Count failed logins per address, per username-and-address, and per username, in the database.

Attempts are counted *before* the password is checked, in the same transaction as the check of
the limits, so parallel tries cannot slip past (issue 11). The per-address and the
per-username-and-address limits refuse; the per-username limit only slows down (one try per a
few seconds), and not at all from addresses where that admin logged in before: an attacker who
guesses from many addresses cannot lock the real admin out.

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
    "UserPace",
    "admit_attempt",
    "count_failure",
    "pair_key",
    "forget",
    "forget_success",
    "known_key",
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
    """Return the row key for `value` of `kind` ("user", "ip", ...): a hash, never the value."""
    return f"{kind}:{sha256_hex(value)}"


@dataclass(frozen=True, slots=True)
class UserPace:
    """Past `after` failures of one username in a window, one checked try per `spacing_seconds`.

    The username's own limit slows guessing from many addresses down instead of locking the
    name: an attacker cannot keep its real owner out, and the owner's known addresses (where
    they logged in before, `known_key`) are not slowed at all.
    """

    after: int
    window_seconds: int
    spacing_seconds: int
    known_days: int = 30


def pair_key(username: str, client_ip: str) -> str:
    """Return the row key of one username tried from one address (a hash of both)."""
    return throttle_key("pair", f"{username}\0{client_ip}")


def known_key(username: str, client_ip: str) -> str:
    """Return the row key marking an address where `username` logged in successfully."""
    return throttle_key("known", f"{username}\0{client_ip}")


def _locked(session: Session, key: str, now: datetime) -> LoginThrottle:
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(LoginThrottle(key=key, failures=0, window_started_at=now))
    except IntegrityError:
        pass  # another process created it at the same moment: lock theirs
    row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def admit_attempt(
    session: Session,
    keys: Sequence[tuple[str, ThrottleLimit]],
    now: datetime,
    *,
    user: tuple[str, str, UserPace] | None = None,
) -> int:
    """Count an attempt before its password is checked; return 0, or the seconds to wait.

    One transaction (write lock on SQLite, row locks on PostgreSQL, taken in key order): the
    limits are checked and the attempt counted together, so parallel tries cannot all pass the
    check before any is counted. A success undoes the count (`forget_success`).

    Args:
        session: A write transaction.
        keys: Hard limits (per address, per username-and-address): refused when reached.
        now: The current time.
        user: (user key, known key, pace): the username's slowdown; skipped for known addresses.
    """
    rows = {key: _locked(session, key, now) for key in sorted({k for k, _ in keys})}
    wait = 0
    for key, limit in keys:
        row = rows[key]
        ends = row.window_started_at + timedelta(seconds=limit.window_seconds)
        if ends <= now:
            row.failures, row.window_started_at = 0, now
        elif row.failures >= limit.failures:
            wait = max(wait, int((ends - now).total_seconds()) + 1)
    pace_row: LoginThrottle | None = None
    if user is not None:
        user_key, known, pace = user
        known_row = session.get(LoginThrottle, known)
        is_known = (
            known_row is not None
            and known_row.window_started_at + timedelta(days=pace.known_days) > now
        )
        user_row = _locked(session, user_key, now)
        if user_row.window_started_at + timedelta(seconds=pace.window_seconds) <= now:
            user_row.failures, user_row.window_started_at = 0, now
        rows[user_key] = user_row
        if user_row.failures >= pace.after and not is_known:
            pace_row = _locked(session, f"pace:{user_key.partition(':')[2]}", now)
            since = (now - pace_row.window_started_at).total_seconds()
            if pace_row.failures and since < pace.spacing_seconds:
                wait = max(wait, int(pace.spacing_seconds - since) + 1)
    if wait:
        return wait
    for row in rows.values():
        row.failures += 1
    if pace_row is not None:
        pace_row.failures, pace_row.window_started_at = 1, now
    return 0


def forget_success(
    session: Session, *, cleared: Sequence[str], undone: Sequence[str], known: str, now: datetime
) -> None:
    """After a success: drop `cleared` counts, take back this attempt from `undone`, remember
    the address as `known` for its username."""
    session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key.in_(list(cleared))))
    session.execute(
        sa.update(LoginThrottle)
        .where(LoginThrottle.key.in_(list(undone)), LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
    )
    row = session.get(LoginThrottle, known)
    if row is None:
        session.add(LoginThrottle(key=known, failures=0, window_started_at=now))
    else:
        row.window_started_at = now


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


def purge_throttles(session: Session, before: datetime, *, known_before: datetime) -> None:
    """Delete counts whose window started before `before`, known addresses before the other."""
    known = LoginThrottle.key.startswith("known:")
    session.execute(
        sa.delete(LoginThrottle).where(~known, LoginThrottle.window_started_at <= before)
    )
    session.execute(
        sa.delete(LoginThrottle).where(known, LoginThrottle.window_started_at <= known_before)
    )


class LoginLimiter:
    """Admit login attempts, counted before their password is checked, and clear them on success.

    Hard limits per address and per username-and-address refuse further tries for the rest of
    the window; past `user_pace.after` failures of one username from anywhere, that username is
    slowed to one checked try per `user_pace.spacing_seconds`, except from addresses where it
    logged in before: an attacker can slow guessing down but never lock the real admin out.

    Args:
        database: The database holding `login_throttles`.
        clock: The time source.
        user_limit: Failed logins allowed per username from one client address in a window.
        ip_limit: Failed logins allowed per client address in a window.
        user_pace: How a username tried from many addresses is slowed down.
    """

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        user_limit: ThrottleLimit | None = None,
        ip_limit: ThrottleLimit | None = None,
        user_pace: UserPace | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self.user_limit = user_limit or ThrottleLimit(failures=10, window_seconds=900)
        self.ip_limit = ip_limit or ThrottleLimit(failures=50, window_seconds=900)
        self.user_pace = user_pace or UserPace(
            after=self.user_limit.failures, window_seconds=900, spacing_seconds=5
        )

    def admit(self, username: str, client_ip: str) -> int:
        """Count one attempt of `username` from `client_ip`; return 0, or the seconds to wait."""
        with self._db.write() as session:
            return admit_attempt(
                session,
                (
                    (pair_key(username, client_ip), self.user_limit),
                    (throttle_key("ip", client_ip), self.ip_limit),
                ),
                self._clock.now(),
                user=(
                    throttle_key("user", username),
                    known_key(username, client_ip),
                    self.user_pace,
                ),
            )

    def succeeded(self, username: str, client_ip: str) -> None:
        """Clear `username`'s counts, take back this attempt from the address, remember it.

        The address keeps its other failures, so one valid account cannot be used to reset
        guessing against the others.
        """
        with self._db.write() as session:
            forget_success(
                session,
                cleared=(pair_key(username, client_ip), throttle_key("user", username)),
                undone=(throttle_key("ip", client_ip),),
                known=known_key(username, client_ip),
                now=self._clock.now(),
            )

    def purge(self, *, older_than_seconds: int = 86400, known_for_days: int = 30) -> None:
        """Delete counts older than `older_than_seconds`, known addresses after `known_for_days`."""
        now = self._clock.now()
        with self._db.write() as session:
            purge_throttles(
                session,
                now - timedelta(seconds=older_than_seconds),
                known_before=now - timedelta(days=known_for_days),
            )
