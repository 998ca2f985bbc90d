"""Lifecycle notifications: a durable outbox in the database, delivered as Standard Webhooks.

An account's state changes (connected, refresh failing, needs a login, recovered, refresh token
expiring, disconnected) and the bot's intake going down or up become events. They are written
to `notify_events` in the SAME transaction as the change they describe (the store calls
`Outbox.on_account_event` from its event hook), so a crash can neither lose an event nor
announce a change that was rolled back. Each event gets one `notify_deliveries` row per target
(`notify.webhooks[]` and `notify.webex`) that wants its type.

De-duplication: `notify_states` remembers, per subject (``account:<id>``, ``intake``), the last
state announced; an event is only written when the state changes. A failing account therefore
notifies once when it starts failing, not once per retry, and once more when it recovers.

Delivery (`Dispatcher.run`): any instance may run it; a delivery is claimed with a conditional
UPDATE and a lease (like the refresh claims), so one instance sends it. Per target and subject,
only the oldest pending delivery is eligible, so events reach a receiver in order per account.
A failed POST is retried with back-off for `give_up_hours` (default a day), then dropped and
logged. A process killed between the POST and the commit leaves the lease to lapse: the event
is sent again with the same ``webhook-id``, which is what Standard Webhooks receivers
de-duplicate on (at-least-once is the best any sender can do across a crash).

Signing follows the Standard Webhooks specification: headers ``webhook-id``,
``webhook-timestamp`` (Unix seconds of the attempt) and ``webhook-signature`` =
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with the base64-decoded part of
the ``whsec_`` secret. The body is ``{"type", "timestamp", "data"}``; it never holds a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol
from typing import cast
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import requests
import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased
from sqlalchemy.orm import mapped_column

from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.logs import redact
from tokenbot.core.models import Account
from tokenbot.core.models import Base
from tokenbot.core.models import EventKind
from tokenbot.core.rows import execute_update

__all__ = [
    "BACKOFF_SECONDS",
    "DeliveryView",
    "Dispatcher",
    "DispatchReport",
    "NotifyDelivery",
    "NotifyEvent",
    "NotifyState",
    "Outbox",
    "SendResult",
    "Sender",
    "Target",
    "WebhookSender",
    "account_event_type",
    "display_url",
    "intake_state_hook",
    "sign",
    "targets_from",
]

log = logging.getLogger(__name__)

# Standard Webhooks' suggested schedule, tightened at the start: attempt n waits
# BACKOFF_SECONDS[n-1] after the failure (the last value repeats) until give-up.
BACKOFF_SECONDS = (5, 30, 120, 300, 900, 1800, 3600, 7200)
PENDING = "pending"
SENT = "sent"
DROPPED = "dropped"
_BATCH = 50
_MAX_ROUNDS = 20
_MAX_ERROR_CHARS = 300


class NotifyEvent(Base):
    """One lifecycle event, its exact body kept so every attempt signs the same bytes."""

    __tablename__ = "notify_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    type: Mapped[str] = mapped_column(sa.String(64))
    subject: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[int | None]
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(index=True)


class NotifyDelivery(Base):
    """One event for one target: pending until sent, or dropped after `give_up_hours`."""

    __tablename__ = "notify_deliveries"
    __table_args__ = (
        sa.Index("ix_notify_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_notify_deliveries_order", "target_key", "subject", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("notify_events.id", ondelete="CASCADE"))
    target_key: Mapped[str] = mapped_column(sa.String(64))
    subject: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(255))
    lease_until: Mapped[datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class NotifyState(Base):
    """The last state announced for a subject: an event is written only when it changes."""

    __tablename__ = "notify_states"

    subject: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(32))
    updated_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class Target:
    """Somewhere events go: a webhook endpoint or the Webex target.

    Attributes:
        key: Stable name stored with each delivery (``webhook:<hash of url>`` or ``webex``).
        kind: ``webhook`` or ``webex``.
        url: The endpoint URL (webhooks), else "".
        events: The types it wants; empty means all.
        label: What the panel shows (URL without its query, or the room / person).
    """

    key: str
    kind: str
    url: str = field(default="", repr=False)
    events: tuple[str, ...] = ()
    label: str = ""

    @classmethod
    def webhook(cls, url: str, events: Sequence[str] = ()) -> Target:
        """Return the target of one `notify.webhooks` entry."""
        digest = hashlib.sha256(url.encode()).hexdigest()[:24]
        return cls(f"webhook:{digest}", "webhook", url, tuple(events), display_url(url))

    def wants(self, event_type: str) -> bool:
        """Tell whether this target receives `event_type` (test events go where they are sent)."""
        if event_type == "notify.test":
            return False
        return not self.events or event_type in self.events


def display_url(url: str) -> str:
    """Return `url` without its query (receivers often carry a token there)."""
    parts = urlsplit(url)
    tail = "?..." if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + tail


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value for one attempt (Standard Webhooks v1)."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# Which account state each history event means, and what is announced on entering it.
_STATE_OF: dict[EventKind, str] = {
    EventKind.CONNECTED: "healthy",
    EventKind.RECONNECTED: "healthy",
    EventKind.REFRESHED: "healthy",
    EventKind.REFRESH_FAILED: "failing",
    EventKind.NEEDS_REAUTH: "needs_reauth",
    EventKind.DISCONNECTED: "disconnected",
}
_BROKEN = ("failing", "needs_reauth")


def account_event_type(kind: EventKind, previous: str | None) -> str | None:
    """Return the event type a history event announces, given the last state announced.

    Args:
        kind: What the store recorded.
        previous: The state last announced for the account (None: never announced).

    Returns:
        The type, or None when nothing changed worth telling (a retry, a routine refresh).
    """
    if kind is EventKind.REFRESH_TOKEN_EXPIRING:
        return "account.refresh_token_expiring"  # the store records it once per token
    state = _STATE_OF.get(kind)
    if state is None or state == previous:
        return None
    if state == "healthy":
        if previous in _BROKEN:
            return "account.recovered"
        if kind is EventKind.REFRESHED:
            return None  # a routine refresh of an account never announced
        return "account.connected"
    if state == "failing":
        return None if previous == "needs_reauth" else "account.refresh_failed"
    return f"account.{state}"


class Outbox:
    """Write events and their deliveries; read them back for the panel.

    Args:
        db: The database (migrated to head).
        targets: Where events go.
        clock: The time source.
        extra_data: Called with the account id to add fields to account events' data (the
            re-login link, for example); must not return secrets.
    """

    def __init__(
        self,
        db: Database,
        targets: Sequence[Target],
        *,
        clock: Clock,
        extra_data: Callable[[Session, int, str], dict[str, Any]] | None = None,
    ) -> None:
        self.db = db
        self.targets = tuple(targets)
        self.clock = clock
        self.extra_data = extra_data

    def target(self, key: str) -> Target | None:
        """Return the configured target named `key`, or None."""
        return next((t for t in self.targets if t.key == key), None)

    # -- writing -------------------------------------------------------------------------------

    def on_account_event(
        self, session: Session, account_id: int, kind: EventKind, detail: str, now: datetime
    ) -> None:
        """Turn one account history event into a notification when the state changed.

        Runs inside the store's transaction (the account row is locked or fenced there, so
        two writers of one account's state are serialised by the database).
        """
        if kind not in _STATE_OF and kind is not EventKind.REFRESH_TOKEN_EXPIRING:
            return
        subject = f"account:{account_id}"
        state_row = session.get(NotifyState, subject, with_for_update=True)
        previous = state_row.state if state_row is not None else None
        event_type = account_event_type(kind, previous)
        state = _STATE_OF.get(kind)
        if state is not None and state != previous:
            if state_row is None:
                session.add(NotifyState(subject=subject, state=state, updated_at=now))
            else:
                state_row.state = state
                state_row.updated_at = now
        if event_type is None:
            return
        account = session.get(Account, account_id)
        data: dict[str, Any] = {"account_id": account_id}
        if account is not None:
            data.update(
                person_id=account.person_id,
                email=account.email,
                display_name=account.display_name,
                status=str(account.status),
            )
        if event_type in ("account.refresh_failed", "account.needs_reauth"):
            data["reason"] = redact(detail)[:_MAX_ERROR_CHARS]
        if self.extra_data is not None:
            data.update(self.extra_data(session, account_id, event_type))
        self.add(session, event_type, data, subject=subject, now=now, account_id=account_id)

    def emit_state(self, subject: str, state: str, event_type: str, data: dict[str, Any]) -> bool:
        """Record `event_type` for a non-account subject when its state changes (own commit).

        Returns whether an event was written (False: that state was already announced).
        """
        try:
            return self._emit_state(subject, state, event_type, data)
        except IntegrityError:
            # Another instance recorded this subject's first state at the same moment (both
            # found no row and inserted one): now the row exists, so the second try locks it.
            return self._emit_state(subject, state, event_type, data)

    def _emit_state(self, subject: str, state: str, event_type: str, data: dict[str, Any]) -> bool:
        now = self.clock.now()
        with self.db.write() as session:
            row = session.get(NotifyState, subject, with_for_update=True)
            if row is not None and row.state == state:
                return False
            if row is None:
                # Nothing announced yet: a first "up" is the normal start, not news.
                session.add(NotifyState(subject=subject, state=state, updated_at=now))
                if state == "up":
                    return False
            else:
                row.state = state
                row.updated_at = now
            self.add(session, event_type, data, subject=subject, now=now)
            return True

    def send_test(self, target_key: str) -> str:
        """Queue a ``notify.test`` event for one target; return its webhook-id.

        Raises:
            KeyError: No target has this key.
        """
        target = self.target(target_key)
        if target is None:
            raise KeyError(target_key)
        now = self.clock.now()
        with self.db.write() as session:
            event = self.add(
                session,
                "notify.test",
                {"target": target.label, "note": "a test event sent from tokenbot"},
                subject=f"test:{target.key}",
                now=now,
                only=target,
            )
            assert event is not None
            return event.message_id

    def add(
        self,
        session: Session,
        event_type: str,
        data: dict[str, Any],
        *,
        subject: str,
        now: datetime,
        account_id: int | None = None,
        only: Target | None = None,
    ) -> NotifyEvent | None:
        """Write one event and a delivery per target that wants it, in `session`.

        Nothing is written when no target wants the type (events are not kept for nobody).
        """
        targets = [only] if only is not None else [t for t in self.targets if t.wants(event_type)]
        if not targets:
            return None
        body = json.dumps(
            {"type": event_type, "timestamp": _iso(now), "data": data},
            separators=(",", ":"),
            sort_keys=True,
        )
        event = NotifyEvent(
            message_id="msg_" + secrets.token_urlsafe(18),
            type=event_type,
            subject=subject,
            account_id=account_id,
            body=body,
            created_at=now,
        )
        session.add(event)
        session.flush()
        for target in targets:
            session.add(
                NotifyDelivery(
                    event_id=event.id,
                    target_key=target.key,
                    subject=subject,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        session.flush()
        log.info("notify: queued %s (%s) for %d target(s)", event_type, subject, len(targets))
        return event

    # -- reading -------------------------------------------------------------------------------

    def deliveries(self, *, limit: int = 50, target_key: str | None = None) -> list[DeliveryView]:
        """Return the newest deliveries first (the panel's delivery log)."""
        query = (
            sa.select(NotifyDelivery, NotifyEvent)
            .join(NotifyEvent, NotifyEvent.id == NotifyDelivery.event_id)
            .order_by(NotifyDelivery.id.desc())
            .limit(limit)
        )
        if target_key is not None:
            query = query.where(NotifyDelivery.target_key == target_key)
        with self.db.read() as session:
            rows = session.execute(query).all()
        out = []
        for delivery, event in rows:
            target = self.target(delivery.target_key)
            out.append(
                DeliveryView(
                    id=delivery.id,
                    message_id=event.message_id,
                    type=event.type,
                    subject=event.subject,
                    target_key=delivery.target_key,
                    target=target.label if target is not None else delivery.target_key,
                    status=delivery.status,
                    attempts=delivery.attempts,
                    last_status=delivery.last_status,
                    last_error=delivery.last_error,
                    created_at=delivery.created_at,
                    sent_at=delivery.sent_at,
                    next_attempt_at=delivery.next_attempt_at,
                )
            )
        return out

    def purge(self, older_than: datetime) -> int:
        """Delete finished deliveries (and events left without any) older than `older_than`."""
        with self.db.write(durable=False) as session:
            done = cast(
                CursorResult[Any],
                session.execute(
                    sa.delete(NotifyDelivery).where(
                        NotifyDelivery.status.in_((SENT, DROPPED)),
                        NotifyDelivery.created_at < older_than,
                    )
                ),
            ).rowcount
            orphan = ~sa.exists().where(NotifyDelivery.event_id == NotifyEvent.id)
            session.execute(
                sa.delete(NotifyEvent).where(NotifyEvent.created_at < older_than, orphan)
            )
            return int(done)


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One line of the delivery log."""

    id: int
    message_id: str
    type: str
    subject: str
    target_key: str
    target: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one attempt got: ok, the HTTP status if any, and a short error."""

    ok: bool
    status: int | None = None
    error: str | None = None


class Sender(Protocol):
    """Delivers one event to one kind of target."""

    def send(self, target: Target, message_id: str, body: str) -> SendResult:
        """Deliver `body`; never raise for delivery failures."""
        ...


class WebhookSender:
    """POST events to webhook endpoints, signed per Standard Webhooks.

    Args:
        key: The HMAC key (the decoded part of ``whsec_...``).
        timeout_seconds: Connect and read timeout of one POST.
        wall: Unix time for ``webhook-timestamp`` (receivers compare it with their clock).
    """

    def __init__(
        self, key: bytes, *, timeout_seconds: float = 10, wall: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self.timeout_seconds = timeout_seconds
        self._wall = wall
        self._http = requests.Session()

    def send(self, target: Target, message_id: str, body: str) -> SendResult:
        """POST one signed event; a 2xx answer is success, anything else a failure."""
        raw = body.encode()
        timestamp = int(self._wall())
        headers = {
            "content-type": "application/json",
            "user-agent": "tokenbot-notify",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._key, message_id, timestamp, raw),
        }
        try:
            response = self._http.post(
                target.url,
                data=raw,
                headers=headers,
                timeout=self.timeout_seconds,
                allow_redirects=False,  # a redirect would re-send elsewhere; refuse it
            )
        except requests.RequestException as exc:
            # The exception text can hold the URL, and its query a receiver's token.
            return SendResult(False, None, type(exc).__name__)
        with response:
            if 200 <= response.status_code < 300:
                return SendResult(True, response.status_code)
            return SendResult(False, response.status_code, f"HTTP {response.status_code}")


@dataclass(frozen=True, slots=True)
class DispatchReport:
    """What one `Dispatcher.run` did."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    busy: int = 0


class Dispatcher:
    """Claim due deliveries, send them, record the outcome; safe on every instance at once.

    Args:
        outbox: Where events and targets are.
        senders: By target kind (``webhook``, ``webex``).
        clock: The time source (schedules, leases, give-up).
        owner: This process's lease owner.
        lease_seconds: How long a claimed delivery is ours (above the sender's timeout).
        give_up_hours: How long a delivery is retried before it is dropped.
    """

    def __init__(
        self,
        outbox: Outbox,
        senders: dict[str, Sender],
        *,
        clock: Clock,
        owner: str,
        lease_seconds: float = 60,
        give_up_hours: float = 24,
    ) -> None:
        self.outbox = outbox
        self.senders = senders
        self.clock = clock
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.give_up = timedelta(hours=give_up_hours)
        self.counters: dict[str, int] = {"sent": 0, "failed": 0, "dropped": 0}

    def run(self, *, max_rounds: int = _MAX_ROUNDS) -> DispatchReport:
        """Deliver everything due, oldest first, in order per target and subject."""
        sent = failed = dropped = busy = 0
        for _ in range(max_rounds):
            ids = self._candidates()
            if not ids:
                break
            progressed = False
            for delivery_id in ids:
                outcome = self._one(delivery_id)
                if outcome == "busy":
                    busy += 1
                    continue
                progressed = True
                sent += outcome == SENT
                failed += outcome == "failed"
                dropped += outcome == DROPPED
            if not progressed:
                break  # what is left waits for its back-off or another holder
        return DispatchReport(sent, failed, dropped, busy)

    def _candidates(self) -> list[int]:
        now = self.clock.now()
        earlier = aliased(NotifyDelivery)
        query = (
            sa.select(NotifyDelivery.id)
            .where(
                NotifyDelivery.status == PENDING,
                NotifyDelivery.next_attempt_at <= now,
                sa.or_(NotifyDelivery.lease_until.is_(None), NotifyDelivery.lease_until < now),
                ~sa.exists().where(
                    earlier.target_key == NotifyDelivery.target_key,
                    earlier.subject == NotifyDelivery.subject,
                    earlier.status == PENDING,
                    earlier.id < NotifyDelivery.id,
                ),
            )
            .order_by(NotifyDelivery.id)
            .limit(_BATCH)
        )
        with self.outbox.db.read() as session:
            return list(session.execute(query).scalars())

    def _one(self, delivery_id: int) -> str:
        now = self.clock.now()
        until = now + timedelta(seconds=self.lease_seconds)
        with self.outbox.db.write() as session:
            claimed = execute_update(
                session,
                sa.update(NotifyDelivery)
                .where(
                    NotifyDelivery.id == delivery_id,
                    NotifyDelivery.status == PENDING,
                    sa.or_(NotifyDelivery.lease_until.is_(None), NotifyDelivery.lease_until < now),
                )
                .values(lease_owner=self.owner, lease_until=until),
            ).rowcount
            if claimed != 1:
                return "busy"
            delivery, event = session.execute(
                sa.select(NotifyDelivery, NotifyEvent)
                .join(NotifyEvent, NotifyEvent.id == NotifyDelivery.event_id)
                .where(NotifyDelivery.id == delivery_id)
            ).one()
            target_key, created_at, attempts = (
                delivery.target_key,
                delivery.created_at,
                delivery.attempts,
            )
            message_id, body, event_type = event.message_id, event.body, event.type
        target = self.outbox.target(target_key)
        sender = self.senders.get(target.kind) if target is not None else None
        if target is None or sender is None:
            result = SendResult(False, None, f"target {target_key} is no longer configured")
        else:
            try:
                result = sender.send(target, message_id, body)
            except Exception as exc:  # a sender bug must not stop the other deliveries
                log.exception("notify: sending %s to %s crashed", message_id, target_key)
                result = SendResult(False, None, type(exc).__name__)
        return self._record(delivery_id, result, attempts + 1, created_at, event_type, target)

    def _record(
        self,
        delivery_id: int,
        result: SendResult,
        attempts: int,
        created_at: datetime,
        event_type: str,
        target: Target | None,
    ) -> str:
        now = self.clock.now()
        label = target.label if target is not None else "a removed target"
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status": result.status,
            "last_error": None if result.ok else (result.error or "failed")[:_MAX_ERROR_CHARS],
            "lease_owner": None,
            "lease_until": None,
        }
        if result.ok:
            outcome = SENT
            values.update(status=SENT, sent_at=now)
        elif now - created_at >= self.give_up or target is None:
            outcome = DROPPED
            values.update(status=DROPPED)
        else:
            outcome = "failed"
            delay = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
            values.update(next_attempt_at=now + timedelta(seconds=delay))
        with self.outbox.db.write() as session:
            stored = execute_update(
                session,
                sa.update(NotifyDelivery)
                .where(NotifyDelivery.id == delivery_id, NotifyDelivery.lease_owner == self.owner)
                .values(**values),
            ).rowcount
        if stored != 1:
            log.warning(
                "notify: delivery %s outlived its lease (another instance may send it again)",
                delivery_id,
            )
        self.counters[outcome] += 1
        if outcome == SENT:
            log.info("notify: delivered %s to %s", event_type, label)
        elif outcome == DROPPED:
            log.error(
                "notify: DROPPED %s to %s after %d attempts over %s (last: %s)",
                event_type,
                label,
                attempts,
                now - created_at,
                values["last_error"],
            )
        else:
            log.warning(
                "notify: %s to %s failed (%s), attempt %d; next at %s",
                event_type,
                label,
                values["last_error"],
                attempts,
                _iso(values["next_attempt_at"]),
            )
        return outcome


def intake_state_hook(outbox: Outbox, mode: str) -> Callable[[str, str], bool]:
    """Return the bot's intake-state hook: ``down``/``silent``/``up`` as intake events.

    A silent intake is announced as ``intake.down`` with ``data.state = "silent"`` (a receiver
    that alerts on the intake going down alerts on it too); the state is its own in
    `notify_states`, so silent -> down -> up are three announcements, each once.
    """

    def tell(state: str, reason: str) -> bool:
        event_type = "intake.up" if state == "up" else "intake.down"
        data = {"intake": mode, "state": state, "reason": redact(reason)[:_MAX_ERROR_CHARS]}
        return outbox.emit_state("intake", state, event_type, data)

    return tell


def targets_from(webhooks: Iterable[Any], webex: Any) -> list[Target]:
    """Return the targets of the `notify` settings (`NotifyWebhook`s and a `NotifyWebex`)."""
    targets = [Target.webhook(hook.url, hook.events) for hook in webhooks]
    if webex is not None:
        where = webex.room_id and f"room {webex.room_id[:12]}..." or webex.person_email
        targets.append(Target("webex", "webex", "", tuple(webex.events), f"Webex: {where}"))
    return targets
