"""Messages and card presses that met a dead token, kept (ids only) until the login is renewed.

With the bot identity's token gone, a webhook delivery cannot even be read: `GET
/v1/messages/{id}` needs the token, and the delivery carries nothing else. Such a message
(or card press) is kept here by id, and answered once the identity works again
(`bot.replay.Replayer`). Of two instances (or two rounds) trying to answer the same one,
exactly one takes its row: `take` deletes it and only one delete finds the row, on SQLite and
PostgreSQL alike.

Bounded, because what arrives is hostile: a row holds ids and a time, never a message's text;
at most `limit` rows are kept (beyond it others' messages are not kept; the user's own push out
the oldest of others'), and a row older than `keep_for` (a day) is forgotten unanswered.
Flood control runs before any of this, so a flood while the token is dead reaches the table
only at the buckets' rate.
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

__all__ = ["KEEP_FOR", "Waiting", "WaitingCommand", "WaitingCommands"]

# Beyond a day, telling someone "send it again" helps nobody: the row is dropped silently.
KEEP_FOR = timedelta(days=1)
_MAX_ID = 255


class WaitingCommand(Base):
    """A message or card press whose processing met a bot identity that needed re-login."""

    __tablename__ = "bot_waiting_commands"

    item_id: Mapped[str] = mapped_column(sa.String(_MAX_ID), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # "message" or "card"
    intake: Mapped[str] = mapped_column(sa.String(16))
    urgent: Mapped[bool] = mapped_column(default=False)  # the user's own: kept first
    kept_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True, slots=True)
class Waiting:
    """One kept message or card press."""

    item_id: str
    kind: str
    intake: str
    urgent: bool
    kept_at: datetime


class WaitingCommands:
    """Keep, list and take the messages waiting for the re-login.

    Args:
        database: The shared database (the table comes from the migrations).
        clock: Stamps the rows and ages them.
        limit: The most rows kept.
        keep_for: Rows older than this are forgotten.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        limit: int = 200,
        keep_for: timedelta = KEEP_FOR,
    ) -> None:
        self._db = database
        self._clock = clock
        self.limit = limit
        self._keep_for = keep_for

    def keep(self, item_id: str, *, kind: str, intake: str, urgent: bool = False) -> bool:
        """Keep one message or card press; False when it was not kept (full, or kept already).

        Full means `limit` rows: the user's own (`urgent`) then pushes out the oldest of
        others'; anyone else's is not kept. Two instances keeping at once may pass the limit
        by a few rows, never more than their workers.
        """
        if not item_id or len(item_id) > _MAX_ID or self.limit <= 0:
            return False
        now = self._clock.now()
        try:
            with self._db.write(durable=False) as session:
                # Rows past their day go first (reads skip them already).
                session.execute(
                    sa.delete(WaitingCommand).where(WaitingCommand.kept_at < now - self._keep_for)
                )
                held = session.scalar(sa.select(sa.func.count()).select_from(WaitingCommand))
                if int(held or 0) >= self.limit:
                    if not urgent:
                        return False
                    oldest = session.scalar(
                        sa.select(WaitingCommand.item_id)
                        .where(WaitingCommand.urgent.is_(False))
                        .order_by(WaitingCommand.kept_at)
                        .limit(1)
                    )
                    if oldest is None:
                        return False
                    session.execute(
                        sa.delete(WaitingCommand).where(WaitingCommand.item_id == oldest)
                    )
                session.add(
                    WaitingCommand(
                        item_id=item_id, kind=kind, intake=intake, urgent=urgent, kept_at=now
                    )
                )
        except IntegrityError:
            return False
        return True

    def count(self) -> int:
        """Return how many are waiting (the panel's bot card)."""
        with self._db.read() as session:
            found = session.scalar(
                sa.select(sa.func.count())
                .select_from(WaitingCommand)
                .where(WaitingCommand.kept_at >= self._clock.now() - self._keep_for)
            )
        return int(found or 0)

    def oldest(self, limit: int) -> list[Waiting]:
        """Return up to `limit` waiting rows, the oldest first (a read: cheap when empty)."""
        with self._db.read() as session:
            rows = session.execute(
                sa.select(WaitingCommand)
                .where(WaitingCommand.kept_at >= self._clock.now() - self._keep_for)
                .order_by(WaitingCommand.kept_at)
                .limit(limit)
            ).scalars()
            return [
                Waiting(row.item_id, row.kind, row.intake, bool(row.urgent), row.kept_at)
                for row in rows
            ]

    def take(self, item_id: str) -> bool:
        """Take one row to answer it; False when another instance (or round) took it first."""
        with self._db.write(durable=False) as session:
            gone = session.execute(
                sa.delete(WaitingCommand).where(WaitingCommand.item_id == item_id)
            )
            return int(getattr(gone, "rowcount", 0)) == 1
