"""Polling intake, for hosts Webex cannot reach: recently active spaces, new messages since a
stored cursor, within a per-minute call budget, backing off on 429.

A round lists the user's spaces by last activity, and for each space active since its cursor
fetches the newest messages, keeps those after the cursor, and hands them to the bot oldest
first. Each message is claimed in the database before it is queued and the cursor moves past it
after, so a restart neither repeats (the claim) nor misses (the cursor) a message. The first
round ever only sets cursors (history is not replayed); a space first seen later is read from
the time of that first round (`poll_watermark`).
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from tokenbot.bot.bookkeeping import ErrorHook
from tokenbot.bot.client import WebexClient
from tokenbot.bot.identity import BotIdentity
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.loop import Repeater
from tokenbot.bot.message import Message
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.botstate import RoomCursor
from tokenbot.core.clock import Clock
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import RateLimited
from tokenbot.core.errors import TokenbotError

__all__ = ["CallBudget", "PollReport", "Poller"]

log = logging.getLogger(__name__)
_MESSAGES_PER_ROOM = 50
# After a long downtime a busy space may hold more new messages than this; older ones are
# skipped with a warning rather than paging without end.
_MAX_NEW_PER_ROOM = 1000
_WATERMARK = "poll_watermark"
# A Connect this recent counts as "just connected" for the first polling round.
_FRESH_CONNECT = timedelta(minutes=10)


class CallBudget:
    """At most `per_minute` calls in any sliding minute."""

    def __init__(self, per_minute: int, *, monotonic: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self._monotonic = monotonic
        self._spent: collections.deque[float] = collections.deque()

    def try_spend(self) -> bool:
        """Spend one call if the budget allows; False otherwise."""
        now = self._monotonic()
        while self._spent and now - self._spent[0] >= 60.0:
            self._spent.popleft()
        if len(self._spent) >= self.per_minute:
            return False
        self._spent.append(now)
        return True

    def remaining(self) -> int:
        """Return how many calls the current minute still allows."""
        now = self._monotonic()
        return self.per_minute - sum(1 for spent in self._spent if now - spent < 60.0)


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one polling round did."""

    rooms_checked: int = 0
    messages_queued: int = 0
    calls: int = 0
    skipped: str | None = None


class Poller:
    """Poll Webex for new messages as the bot identity and hand each to `submit`.

    Like an updater feeding an update queue: the poller only finds messages; `submit` (the
    bot's intake queue) decides what happens to them.

    Args:
        client: The Webex client (on the bot identity's token).
        state: Cursors, claimed message ids and the watermark (shared by every instance).
        identity: The bot identity; without one there is nothing to poll as.
        submit: Queues one message; False when the queue is full (the round stops there).
        on_error: The bot's error hook, told of every failed round.
        clock: Our clock (the watermark when no space has an activity time).
        interval_seconds: The pause between two rounds.
        rooms: How many recently active spaces a round looks at.
        budget_per_minute: The most Webex calls polling may make in a minute.
        monotonic: Time source for the budget and the 429 pause (tests pass a fake).
    """

    def __init__(
        self,
        client: WebexClient,
        state: BotStateStore,
        identity: IdentityCache,
        submit: Callable[[Message], bool],
        *,
        on_error: ErrorHook,
        clock: Clock,
        interval_seconds: float,
        rooms: int,
        budget_per_minute: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._state = state
        self._identity = identity
        self._submit = submit
        self._on_error = on_error
        self._clock = clock
        self._rooms = rooms
        self._monotonic = monotonic
        self.budget = CallBudget(budget_per_minute, monotonic=monotonic)
        self._backoff_until = 0.0
        self._lock = threading.Lock()
        self._loop = Repeater("bot-poller", interval_seconds, self.poll_once)

    @property
    def alive(self) -> bool:
        """Tell whether the polling thread runs."""
        return self._loop.alive

    def start(self) -> None:
        """Poll every `poll_interval_seconds` on a thread until `stop`."""
        self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling and wait for the running round."""
        self._loop.stop(timeout)

    def poll_once(self) -> PollReport:
        """Run one round; never raises (errors are logged and recorded)."""
        with self._lock:
            if self._monotonic() < self._backoff_until:
                return PollReport(skipped="rate_limited")
            calls = [0]
            try:
                report = self._round(calls)
                if report.skipped is None:
                    self._note_round()
                return report
            except RateLimited as error:
                self._backoff_until = self._monotonic() + error.retry_after
                log.warning("polling paused %.0fs: Webex rate limit", error.retry_after)
                try:
                    self._state.set_values({"poll_rate_limited_for": error.retry_after})
                except Exception:
                    log.exception("could not record the rate limit")
                return PollReport(calls=calls[0], skipped="rate_limited")
            except NeedsReauth as error:
                log.error("polling cannot run: %s", error)
                self._on_error(
                    "polling: the bot identity needs re-login (Reconnect it in the panel)", None
                )
                return PollReport(calls=calls[0], skipped="needs_reauth")
            except TokenbotError as error:
                log.warning("polling round failed: %s", error)
                self._on_error(f"polling failed: {error.code}", None)
                return PollReport(calls=calls[0], skipped="error")
            except Exception as error:
                # A database restart or a surprising answer must not end polling for good.
                log.exception("polling round failed")
                try:
                    self._on_error(f"polling failed: {type(error).__name__}", None)
                except Exception:
                    log.exception("could not record the polling error")
                return PollReport(calls=calls[0], skipped="error")

    def _note_round(self) -> None:
        # What the panel's bot card shows for polling: when it last ran, how many spaces it
        # watches, and how much of the minute's call budget is spent.
        used = self.budget.per_minute - self.budget.remaining()
        self._state.set_values(
            {
                "last_poll_at": self._clock.now().isoformat(),
                "poll_spaces": len(self._state.cursors()),
                "poll_budget_used": used,
                "poll_budget_per_minute": self.budget.per_minute,
            }
        )

    def _round(self, calls: list[int]) -> PollReport:
        state = self._state
        if self._identity.get() is None:
            # Nobody connected yet (or the identity was disconnected): nothing to poll as.
            return PollReport(skipped="no_identity")
        if not self._spend(calls):
            return PollReport(skipped="budget")
        rooms = self._client.list_rooms(limit=self._rooms, wait_on_rate_limit=False)
        cursors = state.cursors()
        watermark = state.value(_WATERMARK)
        if watermark is None:
            self._bootstrap(rooms, self._identity.get())
            return PollReport(rooms_checked=len(rooms), calls=calls[0], skipped="bootstrap")
        checked = queued = 0
        for room in rooms:
            cursor = cursors.get(room["id"]) or RoomCursor(room["id"], None, str(watermark), "")
            activity = str(room.get("lastActivity") or "")
            if activity and activity <= cursor.last_activity:
                continue
            if not self._spend(calls):
                break
            checked += 1
            messages = self._client.list_messages(
                room["id"],
                limit=_MAX_NEW_PER_ROOM,
                page=_MESSAGES_PER_ROOM,
                until=functools.partial(_reached, cursor=cursor),
                wait_on_rate_limit=False,
            )
            for _ in range(len(messages) // _MESSAGES_PER_ROOM):
                self._spend(calls)  # the extra pages the SDK fetched to reach the cursor
            if len(messages) >= _MAX_NEW_PER_ROOM:
                log.warning(
                    "more than %d new messages in a space since the last round; "
                    "only the newest are handled",
                    _MAX_NEW_PER_ROOM,
                )
            count, complete = self._hand_over(cursor, _after(messages, cursor), activity)
            queued += count
            if not complete:
                break
        return PollReport(rooms_checked=checked, messages_queued=queued, calls=calls[0])

    def _hand_over(self, cursor: RoomCursor, new: list[Message], activity: str) -> tuple[int, bool]:
        """Queue `new` (oldest first), moving the cursor past each; False if the queue filled."""
        state = self._state
        queued = 0
        for message in new:
            if state.claim_message(message.id, source="polling"):
                if not self._submit(message):
                    state.release_message(message.id)
                    state.save_cursor(cursor)
                    return queued, False
                queued += 1
            cursor = RoomCursor(cursor.room_id, message.id, message.created, cursor.last_activity)
        state.save_cursor(
            RoomCursor(cursor.room_id, cursor.message_id, cursor.message_created, activity)
        )
        return queued, True

    def _bootstrap(self, rooms: list[dict[str, Any]], identity: BotIdentity | None) -> None:
        """First round ever: start every space at its current activity; history is not run.

        Except what was said since a Connect of the last few minutes: a newcomer's first
        command, typed right after connecting and before this round, gets its answer.
        """
        state = self._state
        activities = [str(room.get("lastActivity") or "") for room in rooms]
        watermark = max([a for a in activities if a], default="") or _webex_now(self._clock)
        since = None
        connected = identity.connected_at if identity is not None else None
        if connected is not None and self._clock.now() - connected <= _FRESH_CONNECT:
            since = _webex_time(connected)
        for room, activity in zip(rooms, activities, strict=True):
            mark = activity or watermark
            if since is not None and mark > since:
                mark = since
            state.save_cursor(RoomCursor(room["id"], None, mark, mark))
        state.set_values({_WATERMARK: watermark})
        log.info(
            "polling starts: %d spaces, history before %s is not replayed", len(rooms), watermark
        )

    def _spend(self, calls: list[int]) -> bool:
        if not self.budget.try_spend():
            log.info("polling call budget spent for this minute")
            return False
        calls[0] += 1
        return True


def _reached(message: Message, cursor: RoomCursor) -> bool:
    """Tell whether `message` is at or before the cursor (already seen)."""
    if message.id == cursor.message_id or message.created < cursor.message_created:
        return True
    return message.created == cursor.message_created and cursor.message_id is None


def _after(messages: list[Message], cursor: RoomCursor) -> list[Message]:
    """Return the messages after the cursor, oldest first (`messages` come newest first)."""
    new = []
    for message in messages:
        if _reached(message, cursor):
            break
        new.append(message)
    new.reverse()
    return new


def _webex_time(moment: datetime) -> str:
    """A moment in Webex's timestamp format (milliseconds, ``Z``)."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _webex_now(clock: Clock) -> str:
    """Our clock in Webex's timestamp format (only when no space has an activity time)."""
    return clock.now().strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"
