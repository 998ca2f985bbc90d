"""Intake that heals itself: re-activate a webhook Webex disabled, then read what was missed.

Webex disables a webhook after 100 failed deliveries in 5 minutes and never says so. Every
`webhook_check_seconds` the healer lists the user's webhooks (one call) and looks at ours: an
``inactive`` one is re-registered (`Bot.register_webhook`, a PUT with ``status=active``), the
bot card shows when, and ``intake.down`` / ``intake.up`` go to the notifications.

After a heal, and slowly in the background (`reconcile_interval_seconds`), a reconciliation
round reads the recently active spaces from the polling cursors (the poller's own round, with
its call budget), so messages whose delivery failed are answered. The message claims
de-duplicate: a message a webhook delivered and the reconciliation read again is answered once.
The first round only sets the cursors (history before the bot started is not replayed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tokenbot.bot.loop import Repeater
from tokenbot.core.errors import TokenbotError

if TYPE_CHECKING:
    from tokenbot.bot.polling import Poller
    from tokenbot.bot.service import Bot

__all__ = ["HealReport", "IntakeHealer", "StateHook"]

log = logging.getLogger(__name__)

# (state, reason): "down" or "up"; the process wires it to the notification outbox.
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
        on_state: Told "down"/"up" when the intake breaks or heals (notifications).
        monotonic: Time source of the schedule (tests pass a fake).
    """

    def __init__(
        self,
        bot: Bot,
        *,
        check_seconds: float = 180,
        reconcile_seconds: float = 600,
        on_state: StateHook | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.check_seconds = check_seconds
        self.reconcile_seconds = reconcile_seconds
        self.on_state = on_state
        self._monotonic = monotonic
        self._checked_at: float | None = None
        self._reconciled_at: float | None = None
        self.poller: Poller = bot.build_poller(monotonic=monotonic)
        tick = min(x for x in (check_seconds, reconcile_seconds or check_seconds) if x > 0)
        self._loop = Repeater("bot-intake-heal", max(1.0, tick / 4), self.run_once)

    def start(self) -> None:
        """Run the first round now (it sets the cursors), then keep going on a thread."""
        self.run_once()
        self._loop.start(pause_first=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait for the running round."""
        self._loop.stop(timeout)

    def run_once(self, *, force: bool = False) -> HealReport:
        """Check the webhook if due (or `force`), reconcile if due or after a heal; never raises."""
        now = self._monotonic()
        checked = reactivated = False
        status = None
        if force or self._checked_at is None or now - self._checked_at >= self.check_seconds:
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
        if reactivated or due or force:
            report = self.poller.poll_once()
            if report.skipped != "no_identity":  # without an identity, try again next tick
                self._reconciled_at = now
            reconciled = report.messages_queued
            if reconciled:
                log.info("reconciliation queued %d message(s) missed by the intake", reconciled)
        return HealReport(checked, status, reactivated, reconciled)

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
            self._tell("up", "the webhook is active")
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

    def _tell(self, state: str, reason: str) -> None:
        if self.on_state is None:
            return
        try:
            self.on_state(state, reason)
        except Exception:  # a notification must never stop the healing
            log.exception("could not record the intake state %s", state)
