"""Named leases in the database: one holder at a time across every instance.

The websocket intake holds its socket under the lease `listener:<group>`: the holder renews it
well inside `lease_seconds`; a standby takes it once it lapses (the holder died). Like the
refresh claims (`core.leases`), a take is one conditional UPDATE only one caller wins, and each
take bumps a version, so a holder whose lease lapsed and was taken over learns it at its next
renewal (`renew` returns False) and stops listening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.models import Base

__all__ = ["Lease", "NamedLease", "NamedLeases"]


class NamedLease(Base):
    """One named lease: who holds it until when."""

    __tablename__ = "bot_leases"

    name: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    owner: Mapped[str | None] = mapped_column(sa.String(128))
    lease_until: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(sa.Integer, default=0)
    updated_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lease: renew and release with it."""

    name: str
    owner: str
    version: int
    lease_until: datetime


class NamedLeases:
    """Take, renew and release named leases.

    Args:
        database: The shared database (table `bot_leases`).
        clock: The time source every instance agrees on closely enough (lease >> skew).
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def take(self, name: str, owner: str, lease_seconds: float) -> Lease | None:
        """Take the lease when it is free, lapsed or already ours; None when someone holds it."""
        now = self._clock.now()
        until = now + timedelta(seconds=lease_seconds)
        for attempt in range(2):
            try:
                with self._db.write(durable=False) as session:
                    row = session.get(NamedLease, name)
                    if row is None:
                        session.add(
                            NamedLease(
                                name=name, owner=owner, lease_until=until, version=1, updated_at=now
                            )
                        )
                        session.flush()
                        return Lease(name, owner, 1, until)
                    free = sa.or_(
                        NamedLease.owner.is_(None),
                        NamedLease.owner == owner,
                        NamedLease.lease_until.is_(None),
                        NamedLease.lease_until < now,
                    )
                    result = session.execute(
                        sa.update(NamedLease)
                        .where(NamedLease.name == name, free)
                        .values(
                            owner=owner,
                            lease_until=until,
                            version=NamedLease.version + 1,
                            updated_at=now,
                        ),
                        execution_options={"synchronize_session": False},
                    )
                    if getattr(result, "rowcount", 0) != 1:
                        return None
                    version = session.execute(
                        sa.select(NamedLease.version).where(NamedLease.name == name)
                    ).scalar_one()
                    return Lease(name, owner, int(version), until)
            except IntegrityError:
                if attempt:
                    return None  # two first takers: the other one won
        return None

    def renew(self, lease: Lease, lease_seconds: float) -> Lease | None:
        """Extend a lease still ours (same owner and version); None when it was taken over."""
        now = self._clock.now()
        until = now + timedelta(seconds=lease_seconds)
        with self._db.write(durable=False) as session:
            result = session.execute(
                sa.update(NamedLease)
                .where(
                    NamedLease.name == lease.name,
                    NamedLease.owner == lease.owner,
                    NamedLease.version == lease.version,
                )
                .values(lease_until=until, updated_at=now),
                execution_options={"synchronize_session": False},
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
        return Lease(lease.name, lease.owner, lease.version, until)

    def release(self, lease: Lease) -> None:
        """Give the lease up if it is still ours, so a standby takes over at once."""
        with self._db.write(durable=False) as session:
            session.execute(
                sa.update(NamedLease)
                .where(
                    NamedLease.name == lease.name,
                    NamedLease.owner == lease.owner,
                    NamedLease.version == lease.version,
                )
                .values(owner=None, lease_until=None, updated_at=self._clock.now()),
                execution_options={"synchronize_session": False},
            )

    def holder(self, name: str) -> tuple[str | None, datetime | None]:
        """Return who holds the lease and until when (for the panel)."""
        with self._db.read() as session:
            row = session.get(NamedLease, name)
            if row is None:
                return None, None
            return row.owner, row.lease_until
