"""Silent intake: the token works, Webex says the webhook is `active`, and nothing arrives.

A webhook whose ``targetUrl`` points at an old address that still answers, a proxy that
swallows the deliveries: Webex counts no failure, so the webhook is never disabled and the
healer's check sees nothing wrong. The background reconciliation (`bot.heal`) reads the new
messages of recently active spaces anyway; this module draws the conclusion from what it read,
at no extra Webex call.

The rule, per reconciliation round (not the round right after a heal, which reads an outage
the healer already announced):

- A **miss** is a message the round itself claimed and queued, i.e. one the intake would have
  claimed had it arrived (the screen let it through: the user's own typing, or someone else's
  message a command is open to), posted at least `grace_seconds` after the intake (re)started
  and at least `grace_seconds` before the read. A message flood control dropped is no miss: the
  intake claimed it (``throttled``), so the reconciliation never reads it again.
- A **delivery** is any message the webhook or websocket intake claimed since the previous
  round began, throttled ones included (one database query).
- A round with a delivery ends the streak. Otherwise its misses add to it; at `misses`
  (default 2) the intake is ``silent``: the bot state says so (bot card, JSON API,
  ``/metrics``) and the state hook is told, which the process turns into one ``intake.down``
  with ``data.state = "silent"`` (de-duplicated per state change like every intake event).
- While silent, every healer tick asks the database (no Webex call) whether the intake claimed
  a message since the silence began; the first one clears it (``intake.up``).

The missed messages themselves are answered by the round that found them, once (the claims).
The streak is a database counter (``intake_missed``, total misses) minus a base set at the last
delivery, so the instances of one bot add to one streak.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

from tokenbot.bot.message import Message
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import Clock

__all__ = ["INTAKE_SOURCES", "SilenceWatch"]

log = logging.getLogger(__name__)

# Claim sources of the push intakes (the poller's own claims are "polling"); "throttled": what
# a push intake dropped by flood control (`Bot.screen`), which reached it all the same.
INTAKE_SOURCES = ("webhook", "websocket", "throttled")
MISSED = "intake_missed"
_BASE = "intake_missed_base"


class SilenceWatch:
    """Count what the reconciliation finds that the intake never delivered.

    Args:
        state: The bot state (claims, counters, the intake state).
        clock: Our clock (claims are stamped with it).
        grace_seconds: How old a message must be, and how long after a (re)start it must have
            been posted, before its absence from the intake counts.
        misses: Misses in rounds without any delivery that make the intake silent; 0: off.
        set_state: Records a new intake state (``silent``/``up``) with its reason.
    """

    def __init__(
        self,
        state: BotStateStore,
        clock: Clock,
        *,
        grace_seconds: float,
        misses: int,
        set_state: Callable[[str, str], None],
    ) -> None:
        self.state = state
        self.clock = clock
        self.grace = timedelta(seconds=grace_seconds)
        self.misses = misses
        self.set_state = set_state
        self.ready_at = clock.now()
        self._round_since = self.ready_at
        self._read_at = self.ready_at
        self._missed = 0
        self._started = False

    @property
    def enabled(self) -> bool:
        """Tell whether silence is watched at all."""
        return self.misses > 0

    def reopened(self) -> None:
        """Move the evidence window past a reconnect; the streak goes on (a socket reopened)."""
        self.ready_at = self.clock.now()

    def restart(self) -> None:
        """Start a fresh evidence window (the intake was just re-registered or healed)."""
        self.ready_at = self.clock.now()
        self._round_since = self.ready_at
        self._started = False

    def begin_round(self) -> None:
        """Get ready for one reconciliation round's messages."""
        if not self._started:
            # Misses before this process watched are not part of its streak.
            self.state.set_values({_BASE: self.state.counter(MISSED)})
            self._started = True
        self._read_at = self.clock.now()
        self._missed = 0

    def admitted(self, message: Message, outcome: str) -> None:
        """Note what the round did with one message it claimed (`IntakeQueue.admit_message`)."""
        if outcome != "queued" or not self._in_window(message.created):
            return
        self._missed += 1

    def end_round(self) -> None:
        """Draw the round's conclusion: a delivery clears, misses add to the streak."""
        since, self._round_since = self._round_since, self._read_at
        missed = self._missed
        if self.state.claimed_since(since, INTAKE_SOURCES):
            if missed:
                self.state.add_counters({MISSED: missed})
            self.state.set_values({_BASE: self.state.counter(MISSED)})
            if self.state.value("intake_state") == "silent":
                self.set_state("up", "the intake delivers messages again")
            return
        if not missed:
            return
        self.state.add_counters({MISSED: missed})
        streak = self.state.counter(MISSED) - int(self.state.value(_BASE, 0) or 0)
        log.warning(
            "intake missed %d message(s) the reconciliation found (%d in a row, no delivery)",
            missed,
            streak,
        )
        if streak >= self.misses and self.state.value("intake_state") != "silent":
            self.set_state(
                "silent",
                f"silent: {streak} messages reached Webex but not the intake "
                "(Webex says it is active)",
            )

    def check_deliveries(self) -> None:
        """While silent, clear it when the intake claimed a message since (database only)."""
        if self.state.value("intake_state") != "silent":
            return
        since = _parse(str(self.state.value("intake_state_since") or ""))
        if since is None:
            return
        if self.state.claimed_since(since, INTAKE_SOURCES):
            self.state.set_values({_BASE: self.state.counter(MISSED)})
            self.set_state("up", "the intake delivers messages again")

    def _in_window(self, created: str) -> bool:
        moment = _parse(created)
        if moment is None:
            return False
        return self.ready_at + self.grace <= moment <= self._read_at - self.grace


def _parse(value: str) -> datetime | None:
    """Read a Webex or ISO timestamp; None when it cannot be read or has no zone."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
