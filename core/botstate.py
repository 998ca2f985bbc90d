"""What the chat bot keeps in the database, and the panel reads: no framework, no SDK.

- `bot_processed_messages`: one row per message the bot took on. The primary key decides who
  acts: of two instances (or a webhook retry) inserting the same id, exactly one succeeds, on
  SQLite and PostgreSQL alike.
- `bot_posted_messages`: what the bot posted (as the user), so it never acts on its own posts,
  even across restarts. A row is written *before* posting with a fingerprint of the content and
  completed with the message id after, closing the race where our own post comes back (by
  webhook, maybe to another instance) before the post call has returned.
- `bot_cursors`: the newest message seen per space, for polling intake.
- `bot_state` / `bot_counters`: mode, webhook registration, last event and error, counters.

All of it is bookkeeping, written with `Database.write(durable=False)`: atomic and kept through
a crash of the process, but not flushed to disk commit by commit (token material always is).
After a power loss the last few claims could be lost, so Webex's redelivery of a message from
those seconds could be answered again; that is the price of three fewer disk flushes per
command.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.models import Base

__all__ = [
    "HOURLY_COUNTERS",
    "BotCounter",
    "BotCursor",
    "BotSnapshot",
    "BotStateStore",
    "BotStateValue",
    "PostedMessage",
    "ProcessedMessage",
    "RoomCursor",
]

# How long a post that has not come back from Webex yet still counts as "ours" by fingerprint.
PENDING_POST_WINDOW = timedelta(minutes=5)
_MAX_ERROR_LENGTH = 500
# Counters also kept per UTC hour (rows named "name@YYYY-MM-DDTHH"), for the panel's chart of
# the last day; buckets older than HOURLY_KEEP are pruned with the processed ids.
HOURLY_COUNTERS = frozenset({"commands_total", "errors"})
HOURLY_KEEP = timedelta(days=2)


def hour_bucket(name: str, moment: datetime) -> str:
    """Name the hourly counter of `name` for the UTC hour holding `moment`."""
    return f"{name}@{moment.astimezone(UTC):%Y-%m-%dT%H}"


class ProcessedMessage(Base):
    """A message some instance took on (de-duplication across deliveries and instances)."""

    __tablename__ = "bot_processed_messages"

    message_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(16))
    processed_at: Mapped[datetime] = mapped_column(index=True)


class PostedMessage(Base):
    """A message the bot posted (or is posting) as the user."""

    __tablename__ = "bot_posted_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[str] = mapped_column(sa.String(255))
    fingerprint: Mapped[str] = mapped_column(sa.String(64), index=True)
    message_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(index=True)


class BotCursor(Base):
    """The newest message the poller has seen in one space."""

    __tablename__ = "bot_cursors"

    room_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    message_created: Mapped[str] = mapped_column(sa.String(40), default="")
    last_activity: Mapped[str] = mapped_column(sa.String(40), default="")
    updated_at: Mapped[datetime]


class BotStateValue(Base):
    """One named value of the bot's state (JSON), e.g. `mode` or `last_event_at`."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime]


class BotCounter(Base):
    """One counter of the bot (commands, errors, ignored messages...), summed over instances."""

    __tablename__ = "bot_counters"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class RoomCursor:
    """Where polling stands in one space; timestamps are Webex's strings."""

    room_id: str
    message_id: str | None
    message_created: str
    last_activity: str


@dataclass(frozen=True, slots=True)
class BotSnapshot:
    """Everything the panel's bot card shows."""

    values: dict[str, Any]
    counters: dict[str, int]

    def get(self, key: str, default: Any = None) -> Any:
        """Return the state value `key`, or `default`."""
        return self.values.get(key, default)


class BotStateStore:
    """Read and write the bot's state.

    Args:
        database: The shared database (tables created by the migrations).
        clock: Time source for the bookkeeping columns.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    # -- de-duplication ----------------------------------------------------------------------

    def claim_message(self, message_id: str, *, source: str) -> bool:
        """Take on a message; False when this or another instance already did."""
        try:
            with self._db.write(durable=False) as session:
                session.add(
                    ProcessedMessage(
                        message_id=message_id, source=source, processed_at=self._clock.now()
                    )
                )
        except IntegrityError:
            return False
        return True

    def release_message(self, message_id: str) -> None:
        """Give a claimed message back (it could not be queued), so a retry may take it."""
        with self._db.write(durable=False) as session:
            session.execute(
                sa.delete(ProcessedMessage).where(ProcessedMessage.message_id == message_id)
            )

    def is_processed(self, message_id: str) -> bool:
        """Return whether a message was claimed."""
        with self._db.read() as session:
            return session.get(ProcessedMessage, message_id) is not None

    def claimed_since(self, since: datetime, sources: Collection[str]) -> bool:
        """Tell whether a message was claimed by one of `sources` at or after `since`."""
        with self._db.read() as session:
            found = session.execute(
                sa.select(ProcessedMessage.message_id)
                .where(
                    ProcessedMessage.processed_at >= since,
                    ProcessedMessage.source.in_(tuple(sources)),
                )
                .limit(1)
            ).first()
            return found is not None

    def prune(self, older_than: timedelta) -> int:
        """Forget processed and posted ids older than `older_than`; return how many."""
        now = self._clock.now()
        cutoff = now - older_than
        with self._db.write(durable=False) as session:
            processed = session.execute(
                sa.delete(ProcessedMessage).where(ProcessedMessage.processed_at < cutoff)
            )
            posted = session.execute(
                sa.delete(PostedMessage).where(PostedMessage.created_at < cutoff)
            )
            # Old hourly buckets go too (bookkeeping, not counted as forgotten ids).
            session.execute(
                sa.delete(BotCounter).where(
                    BotCounter.name.contains("@"), BotCounter.updated_at < now - HOURLY_KEEP
                )
            )
            return int(getattr(processed, "rowcount", 0)) + int(getattr(posted, "rowcount", 0))

    def hourly(self, name: str, since: datetime) -> dict[str, int]:
        """Return the hourly counts of `name` from the hour of `since` on, by bucket name."""
        first = hour_bucket(name, since)
        with self._db.read() as session:
            rows = session.execute(
                sa.select(BotCounter.name, BotCounter.value).where(
                    BotCounter.name >= first, BotCounter.name < f"{name}@~"
                )
            ).all()
        return {str(bucket): int(value) for bucket, value in rows}

    # -- own posts ---------------------------------------------------------------------------

    def begin_post(self, room_id: str, fingerprint: str) -> int:
        """Note that a post with this content fingerprint is about to go out; return its key."""
        with self._db.write(durable=False) as session:
            row = PostedMessage(
                room_id=room_id, fingerprint=fingerprint, created_at=self._clock.now()
            )
            session.add(row)
            session.flush()
            return row.id

    def finish_post(self, post_key: int, message_id: str) -> None:
        """Record the id Webex gave the post."""
        with self._db.write(durable=False) as session:
            session.execute(
                sa.update(PostedMessage)
                .where(PostedMessage.id == post_key)
                .values(message_id=message_id)
            )

    def abandon_post(self, post_key: int) -> None:
        """Forget a post that failed."""
        with self._db.write(durable=False) as session:
            session.execute(sa.delete(PostedMessage).where(PostedMessage.id == post_key))

    def is_own_post(self, message_id: str, fingerprints: Collection[str] = ()) -> bool:
        """Return whether the bot posted `message_id` (or is posting content like it now)."""
        condition = PostedMessage.message_id == message_id
        if fingerprints:
            pending = sa.and_(
                PostedMessage.message_id.is_(None),
                PostedMessage.fingerprint.in_(sorted(fingerprints)),
                PostedMessage.created_at >= self._clock.now() - PENDING_POST_WINDOW,
            )
            condition = sa.or_(condition, pending)
        with self._db.read() as session:
            found = session.execute(sa.select(PostedMessage.id).where(condition).limit(1))
            return found.first() is not None

    def has_pending_post(self, room_id: str) -> bool:
        """Return whether a post into `room_id` is in flight (its id not known yet)."""
        with self._db.read() as session:
            found = session.execute(
                sa.select(PostedMessage.id)
                .where(
                    PostedMessage.room_id == room_id,
                    PostedMessage.message_id.is_(None),
                    PostedMessage.created_at >= self._clock.now() - PENDING_POST_WINDOW,
                )
                .limit(1)
            )
            return found.first() is not None

    # -- polling cursors ---------------------------------------------------------------------

    def cursor(self, room_id: str) -> RoomCursor | None:
        """Return the polling cursor of a space, or None before its first poll."""
        with self._db.read() as session:
            row = session.get(BotCursor, room_id)
            return _cursor(row) if row is not None else None

    def cursors(self) -> dict[str, RoomCursor]:
        """Return every polling cursor by space id."""
        with self._db.read() as session:
            rows = session.execute(sa.select(BotCursor)).scalars()
            return {row.room_id: _cursor(row) for row in rows}

    def save_cursor(self, cursor: RoomCursor) -> None:
        """Store a space's polling cursor (insert or replace)."""
        # Two instances reconciling at once (webhook intake heals on each) may both insert a
        # new space's cursor; the loser retries once and finds the row, as in `set_values`.
        for attempt in range(2):
            try:
                with self._db.write(durable=False) as session:
                    row = session.get(BotCursor, cursor.room_id)
                    if row is None:
                        row = BotCursor(room_id=cursor.room_id)
                        session.add(row)
                    row.message_id = cursor.message_id
                    row.message_created = cursor.message_created
                    row.last_activity = cursor.last_activity
                    row.updated_at = self._clock.now()
                return
            except IntegrityError:
                if attempt:
                    raise

    # -- values and counters -----------------------------------------------------------------

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Store JSON-serializable named values (insert or replace each)."""
        now = self._clock.now()
        # Two instances starting together on PostgreSQL may both find a key missing and insert
        # it; the loser's transaction fails on the primary key and is retried once, finding the
        # row (without the retry, `tokenbot serve` died at start with a duplicate key error).
        for attempt in range(2):
            try:
                with self._db.write(durable=False) as session:
                    for key, value in values.items():
                        row = session.get(BotStateValue, key)
                        if row is None:
                            row = BotStateValue(key=key)
                            session.add(row)
                        row.value = json.dumps(value, default=str)
                        row.updated_at = now
                return
            except IntegrityError:
                if attempt:
                    raise

    def value(self, key: str, default: Any = None) -> Any:
        """Return the named value, or `default`."""
        with self._db.read() as session:
            row = session.get(BotStateValue, key)
            return json.loads(row.value) if row is not None else default

    def add_counters(self, increments: Mapping[str, int]) -> None:
        """Add to named counters, atomically per counter (several instances add safely)."""
        increments = {name: amount for name, amount in increments.items() if amount}
        if not increments:
            return
        now = self._clock.now()
        for name in HOURLY_COUNTERS.intersection(increments):
            increments[hour_bucket(name, now)] = increments[name]
        # Two instances may both find a new counter missing and insert it; the loser's
        # transaction fails on the primary key and is retried once, finding the row.
        for attempt in range(2):
            try:
                with self._db.write(durable=False) as session:
                    for name, amount in sorted(increments.items()):
                        updated = session.execute(
                            sa.update(BotCounter)
                            .where(BotCounter.name == name)
                            .values(value=BotCounter.value + amount, updated_at=now)
                        )
                        if not getattr(updated, "rowcount", 0):
                            session.add(BotCounter(name=name, value=amount, updated_at=now))
                            session.flush()
                return
            except IntegrityError:
                if attempt:
                    raise

    def counter(self, name: str) -> int:
        """Return a counter's total (0 when it was never counted)."""
        with self._db.read() as session:
            row = session.get(BotCounter, name)
            return int(row.value) if row is not None else 0

    def record_error(self, message: str, *, error_id: str | None = None) -> None:
        """Keep the last error (no secrets: callers pass codes and ids) and count it."""
        self.set_values(
            {
                "last_error": message[:_MAX_ERROR_LENGTH],
                "last_error_id": error_id,
                "last_error_at": self._clock.now().isoformat(),
            }
        )
        self.add_counters({"errors": 1})

    def snapshot(self) -> BotSnapshot:
        """Return all values and counters (what the panel's bot card shows)."""
        with self._db.read() as session:
            values = {
                row.key: json.loads(row.value)
                for row in session.execute(sa.select(BotStateValue)).scalars()
            }
            # The hourly buckets are the charts' (see `hourly`), not counters of their own.
            totals = sa.select(BotCounter).where(BotCounter.name.not_like("%@%"))
            counters = {row.name: int(row.value) for row in session.execute(totals).scalars()}
        return BotSnapshot(values=values, counters=counters)


def _cursor(row: BotCursor) -> RoomCursor:
    return RoomCursor(
        room_id=row.room_id,
        message_id=row.message_id,
        message_created=row.message_created,
        last_activity=row.last_activity,
    )
