"""Intake that heals itself: re-activate a webhook Webex disabled, then read what was missed.

Webhook intake: Webex disables a webhook after 100 failed deliveries in 5 minutes and never
says so. Every `webhook_check_seconds` the healer lists the user's webhooks (one call) and looks
at ours: an ``inactive`` one is re-registered (`Bot.register_webhook`, a PUT with
``status=active``), the bot card shows when, and ``intake.down`` / ``intake.up`` go to the
notifications.

After a heal, and slowly in the background (`reconcile_interval_seconds`), a reconciliation
round reads the recently active spaces from the polling cursors (the poller's own round, with
its call budget), so messages whose delivery failed are answered. The message claims
de-duplicate: a message a webhook delivered and the reconciliation read again is answered once.
The first round only sets the cursors (history before the bot started is not replayed).

Websocket intake: no webhook to check, but the same background reconciliation and silence
watch, on the instance holding the websocket listener lease only (one listener, one
reconciliation across instances; a standby's healer does nothing). Each (re)connect's backfill
counts as a round (`intake_opened`), and a round counts as silence evidence only while the
socket is connected; a socket that cannot connect is still reconciled, so commands are answered.

The background rounds also tell whether the intake is *silent* (`bot.silence`): messages the
intake should have delivered, found only by the reconciliation, while the intake delivered
nothing. The intake state (``up``, ``down``, ``silent``) is kept in the bot state, so every
instance and the panel see one answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tokenbot.bot.loop import Repeater
from tokenbot.bot.message import Message
from tokenbot.bot.silence import SilenceWatch
from tokenbot.core.errors import TokenbotError

if TYPE_CHECKING:
    from tokenbot.bot.polling import Poller
    from tokenbot.bot.service import Bot

__all__ = ["HealReport", "IntakeHealer", "StateHook"]

log = logging.getLogger(__name__)

# (state, reason): "down", "silent" or "up"; the process wires it to the notification outbox.
StateHook = Callable[[str, str], object]


@dataclass(frozen=True, slots=True)
class HealReport:
    """What one round did."""

    checked: bool = False
    status: str | None = None
    reactivated: bool = False
    reconciled: int | None = None  # messages queued by the reconciliation, None: no round


class IntakeHealer:
    """Check our webhook and reconcile on a thread of its own.

    Args:
        bot: The bot (its client, state, identity, registration and intake).
        check_seconds: Pause between two webhook checks.
        reconcile_seconds: Pause between two background reconciliations (0: only after heals).
        on_state: Told "down"/"silent"/"up" when the intake breaks or heals (notifications).
        check_webhook: Check our webhook at Webex (webhook intake); False: reconcile only.
        listening: Whether this instance holds the intake (websocket: the listener lease);
            None: always. While it says no, a round does nothing.
        connected: Whether the intake is open now (websocket: the socket); a round while it
            is not is no evidence of silence. None: always.
        silence_grace_seconds: How late a delivery may be before its absence counts.
        silence_misses: Missed messages (no delivery between) that make the intake silent.
        monotonic: Time source of the schedule (tests pass a fake).
    """

    def __init__(
        self,
        bot: Bot,
        *,
        check_seconds: float = 180,
        reconcile_seconds: float = 600,
        on_state: StateHook | None = None,
        silence_grace_seconds: float = 120,
        silence_misses: int = 2,
        check_webhook: bool = True,
        listening: Callable[[], bool] | None = None,
        connected: Callable[[], bool] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.check_webhook = check_webhook
        self.listening = listening
        self.connected = connected
        self.check_seconds = check_seconds
        self.reconcile_seconds = reconcile_seconds
        self.on_state = on_state
        self._monotonic = monotonic
        self._checked_at: float | None = None
        self._reconciled_at: float | None = None
        self.silence = SilenceWatch(
            bot.state,
            bot.clock,
            grace_seconds=silence_grace_seconds,
            misses=silence_misses,
            set_state=self._tell,
        )
        self._evidence = False
        self.poller: Poller = bot.build_poller(monotonic=monotonic, submit=self._submit)
        tick = min(x for x in (check_seconds, reconcile_seconds or check_seconds) if x > 0)
        self._loop = Repeater("bot-intake-heal", max(1.0, tick / 4), self.run_once)

    def start(self) -> None:
        """Run the first round now (it sets the cursors), then keep going on a thread.

        Websocket intake: the connect's backfill is the first round, so the next is due one
        interval later.
        """
        if self.check_webhook:
            self.run_once()
        else:
            self._reconciled_at = self._monotonic()
        self._loop.start(pause_first=True)

    def intake_opened(self) -> None:
        """Note a (re)connected socket: its backfill is this interval's round (on its thread).

        What the backfill reads was posted while no socket was open: no evidence of silence,
        so the watch's window starts now (the streak is kept).
        """
        self._reconciled_at = self._monotonic()
        self.silence.reopened()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait for the running round."""
        self._loop.stop(timeout)

    def run_once(self, *, force: bool = False) -> HealReport:
        """Check the webhook if due (or `force`), reconcile if due or after a heal; never raises."""
        if self.listening is not None and not self.listening():
            return HealReport()  # a standby: the listener's instance reconciles
        now = self._monotonic()
        checked = reactivated = False
        status = None
        if self.check_webhook and (
            force or self._checked_at is None or now - self._checked_at >= self.check_seconds
        ):
            self._checked_at = now
            checked = True
            try:
                status, reactivated = self._check()
            except TokenbotError as error:
                log.warning("webhook check failed: %s", error)
            except Exception:
                log.exception("webhook check failed")
        due = self._reconciled_at is None or (
            self.reconcile_seconds > 0 and now - self._reconciled_at >= self.reconcile_seconds
        )
        reconciled = None
        if reactivated:
            self.silence.restart()  # what the outage held is no evidence of silence
        if reactivated or due or force:
            self._evidence = (
                self.silence.enabled
                and not reactivated
                and (self.connected is None or self.connected())
                and self.bot.state.value("intake_state") != "down"
            )
            try:
                if self._evidence:
                    self.silence.begin_round()
                report = self.poller.poll_once()
                if self._evidence and report.skipped is None:
                    self.silence.end_round()
            except Exception:  # the watch must never stop the reconciliation or the healing
                log.exception("silent-intake check failed")
                report = None
            finally:
                self._evidence = False
            if report is not None:
                if report.skipped != "no_identity":  # without an identity, try next tick
                    self._reconciled_at = now
                reconciled = report.messages_queued
                if reconciled:
                    log.info("reconciliation queued %d message(s) missed by the intake", reconciled)
        if self.silence.enabled:
            try:
                self.silence.check_deliveries()  # database only: no Webex call
            except Exception:
                log.exception("silent-intake check failed")
        return HealReport(checked, status, reactivated, reconciled)

    def _submit(self, message: Message) -> bool:
        """Queue one message the reconciliation claimed, noting it for the silence watch."""
        outcome = self.bot.intake.admit_message(message, intake="polling")
        if self._evidence:
            self.silence.admitted(message, outcome)
        return outcome != "queue_full"

    def _check(self) -> tuple[str | None, bool]:
        bot = self.bot
        if bot.identity.get() is None:
            return None, False
        ours_id = bot.state.value("webhook_id")
        if not ours_id:
            return None, False
        hooks = bot.client.list_webhooks()
        ours = next((h for h in hooks if str(h.get("id")) == str(ours_id)), None)
        if ours is None:
            # Deleted at Webex (by a person or a clean-up): the upkeep registers anew.
            bot.state.set_values({"webhook_registered": False, "webhook_status": "missing"})
            self._tell("down", "our webhook no longer exists at Webex; registering it again")
            return "missing", False
        status = str(ours.get("status") or "active")
        # The card-submit webhook (attachmentActions) is disabled by Webex the same way.
        card_id = bot.state.value("card_webhook_id")
        card = next((h for h in hooks if str(h.get("id")) == str(card_id)), None)
        card_status = str(card.get("status") or "active") if card is not None else "active"
        if status == "active" and card_status == "active":
            bot.state.set_values({"webhook_status": "active"})
            # Active at Webex says nothing about a silent intake: only a delivery clears that.
            self._tell("up", "the webhook is active", routine=True)
            return status, False
        if status == "active":
            log.warning("our card webhook is %s at Webex: re-activating", card_status)
            bot.register_webhook()  # PUTs both webhooks with status=active
            return status, True
        log.warning("our webhook is %s at Webex (deliveries kept failing): re-activating", status)
        self._tell("down", f"Webex set our webhook {status}")
        bot.register_webhook()  # PUT with status=active (bot.registration.ensure_webhook)
        bot.state.set_values(
            {
                "webhook_status": "active",
                "webhook_reactivated_at": bot.clock.now().isoformat(),
            }
        )
        self._tell("up", "the webhook was re-activated")
        return status, True

    def _tell(self, state: str, reason: str, *, routine: bool = False) -> None:
        """Record the intake state (bot card) and tell the hook (notifications, de-duplicated).

        `routine`: an "up" from a webhook check, which leaves a silent intake silent.
        """
        try:
            current = self.bot.state.value("intake_state")
            if routine and current == "silent":
                return
            if current != state:
                self.bot.state.set_values(
                    {
                        "intake_state": state,
                        "intake_state_reason": reason,
                        "intake_state_since": self.bot.clock.now().isoformat(),
                    }
                )
                if current == "down" and state == "up":
                    self.silence.restart()  # re-registered: a fresh evidence window
        except Exception:
            log.exception("could not record the intake state %s", state)
        if self.on_state is None:
            return
        try:
            self.on_state(state, reason)
        except Exception:  # a notification must never stop the healing
            log.exception("could not record the intake state %s", state)
