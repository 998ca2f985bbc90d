"""The silence watch's rule on a real bot state (SQLite), with a frozen clock."""

from __future__ import annotations

from datetime import timedelta

from tokenbot.bot.message import Message
from tokenbot.bot.silence import SilenceWatch
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import FrozenClock


def _message(clock: FrozenClock, number: int, person: str, age_seconds: float = 30) -> Message:
    moment = clock.now() - timedelta(seconds=age_seconds)
    created = f"{moment:%Y-%m-%dT%H:%M:%S}.000Z"
    return Message(f"m{number}", "room", person, f"{person}@example.com", created=created)


def _watch(state: BotStateStore, clock: FrozenClock, told: list[str]) -> SilenceWatch:
    return SilenceWatch(
        state,
        clock,
        grace_seconds=10,
        misses=2,
        set_state=lambda state, _reason: told.append(state),
    )


def test_a_message_flood_control_dropped_is_a_delivery(
    bot_state: BotStateStore, frozen_clock: FrozenClock
) -> None:
    # The intake claims what it throttles (the reconciliation never reads it again): a
    # throttled message reached the intake, so it ends a streak like any delivery.
    told: list[str] = []
    watch = _watch(bot_state, frozen_clock, told)
    frozen_clock.advance(120)
    watch.begin_round()
    watch.admitted(_message(frozen_clock, 1, "bob"), "queued")
    watch.end_round()
    frozen_clock.advance(120)
    watch.begin_round()
    assert bot_state.claim_message("flooded", source="throttled")
    watch.admitted(_message(frozen_clock, 2, "bob"), "queued")
    watch.end_round()
    assert told == [] and bot_state.counter("intake_missed") == 2

    for number in (3, 4, 5):  # the next round still sees it; then no delivery at all
        frozen_clock.advance(120)
        watch.begin_round()
        watch.admitted(_message(frozen_clock, number, "bob"), "queued")
        watch.end_round()
        assert told == ([] if number < 5 else ["silent"])
    assert bot_state.counter("intake_missed") == 5


def test_screened_young_and_pre_start_messages_are_no_misses(
    bot_state: BotStateStore, frozen_clock: FrozenClock
) -> None:
    told: list[str] = []
    watch = _watch(bot_state, frozen_clock, told)
    frozen_clock.advance(120)
    watch.begin_round()
    watch.admitted(_message(frozen_clock, 1, "me"), "own_post")  # the webhook screens these
    watch.admitted(_message(frozen_clock, 2, "me", age_seconds=2), "queued")  # may be in flight
    watch.admitted(_message(frozen_clock, 3, "me", age_seconds=200), "queued")  # before start
    watch.end_round()
    assert told == [] and bot_state.counter("intake_missed") == 0


def test_a_delivery_in_the_round_ends_the_streak(
    bot_state: BotStateStore, frozen_clock: FrozenClock
) -> None:
    told: list[str] = []
    watch = _watch(bot_state, frozen_clock, told)
    frozen_clock.advance(120)
    watch.begin_round()
    watch.admitted(_message(frozen_clock, 1, "me"), "queued")
    watch.end_round()
    frozen_clock.advance(120)
    watch.begin_round()
    assert bot_state.claim_message("delivered", source="webhook")
    watch.admitted(_message(frozen_clock, 2, "me"), "queued")
    watch.end_round()
    frozen_clock.advance(120)
    watch.begin_round()
    watch.admitted(_message(frozen_clock, 3, "me"), "queued")
    watch.end_round()
    assert told == []  # 3 misses, but a delivery between the first and the others
    assert bot_state.counter("intake_missed") == 3
