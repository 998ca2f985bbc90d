"""Polling intake on a fake Webex: cursors, order, restarts, 429 and the call budget."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from tests.plugins.bot import FakeClient
from tests.plugins.bot import FakeIdentityStore
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.message import Message
from tokenbot.bot.polling import CallBudget
from tokenbot.bot.polling import Poller
from tokenbot.bot.service import Bot
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import FrozenClock
from tokenbot.core.errors import RateLimited

ROOMS = [{"id": "ROOM-A", "title": "A"}, {"id": "ROOM-B", "title": "B"}]
_ids = itertools.count(1)


def say(client: FakeClient, room: str, text: str, sender: str = "bob@example.com") -> Message:
    return client.add(
        Message(
            id=f"M-{room}-{next(_ids)}",
            room_id=room,
            person_id="PERSON-BOB",
            person_email=sender,
            text=text,
        )
    )


@pytest.fixture
def polling_bot(make_bot: Callable[..., Bot], fake_client: FakeClient) -> Bot:
    fake_client.rooms = [dict(room) for room in ROOMS]
    return make_bot(intake="polling", start=True)


def test_first_round_does_not_replay_history_later_rounds_answer_in_order(
    polling_bot: Bot, fake_client: FakeClient
) -> None:
    say(fake_client, "ROOM-A", "/echo old")
    poller = polling_bot.build_poller()
    assert poller.poll_once().skipped == "bootstrap"
    for text in ("/echo one", "/echo two", "/echo three"):
        say(fake_client, "ROOM-A", text)
    report = poller.poll_once()
    assert report.messages_queued == 3
    assert polling_bot.pool.wait_idle(10)
    replies = [m.markdown for m in fake_client.replies_to("ROOM-A")]
    assert sorted(replies) == ["one", "three", "two"]  # answered, old one not
    # The replies are new messages too: the next round sees them and drops them as ours.
    poller.poll_once()
    assert polling_bot.pool.wait_idle(10)
    assert len(fake_client.replies_to("ROOM-A")) == 3


def test_a_restart_neither_misses_nor_repeats(
    make_bot: Callable[..., Bot], polling_bot: Bot, fake_client: FakeClient
) -> None:
    polling_bot.build_poller().poll_once()
    say(fake_client, "ROOM-B", "/echo before")
    polling_bot.build_poller().poll_once()
    assert polling_bot.pool.wait_idle(10)
    polling_bot.stop()
    say(fake_client, "ROOM-B", "/echo while down")
    restarted = make_bot(intake="polling", start=True)  # same database, new process
    restarted.build_poller().poll_once()
    assert restarted.pool.wait_idle(10)
    restarted.build_poller().poll_once()
    assert restarted.pool.wait_idle(10)
    assert [m.markdown for m in fake_client.replies_to("ROOM-B")] == ["before", "while down"]


def test_429_pauses_polling_for_retry_after(polling_bot: Bot, fake_client: FakeClient) -> None:
    now = [100.0]
    poller = polling_bot.build_poller(monotonic=lambda: now[0])
    poller.poll_once()

    def limited(**_: object) -> list[dict[str, object]]:
        raise RateLimited("429", retry_after=30)

    original = fake_client.list_rooms
    fake_client.list_rooms = limited  # type: ignore[method-assign]
    assert poller.poll_once().skipped == "rate_limited"
    fake_client.list_rooms = original  # type: ignore[method-assign]
    now[0] += 29
    assert poller.poll_once().skipped == "rate_limited"  # still waiting, no call made
    now[0] += 2
    assert poller.poll_once().skipped is None


def test_the_call_budget_caps_calls_per_minute() -> None:
    now = [0.0]
    budget = CallBudget(3, monotonic=lambda: now[0])
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]
    now[0] = 59.9
    assert not budget.try_spend()
    now[0] = 60.0
    assert budget.try_spend() and budget.remaining() == 2


def test_polling_stops_a_round_when_the_budget_is_spent(
    make_bot: Callable[..., Bot], fake_client: FakeClient
) -> None:
    fake_client.rooms = [dict(room) for room in ROOMS]
    bot = make_bot(intake="polling", start=True, poll_api_budget_per_minute=2)
    poller = bot.build_poller()
    poller.poll_once()  # one call: rooms
    say(fake_client, "ROOM-A", "/ping")
    say(fake_client, "ROOM-B", "/ping")
    report = poller.poll_once()  # rooms + one room, then the budget is spent
    assert (report.calls, report.rooms_checked, report.messages_queued) == (1, 0, 0)
    assert poller.poll_once().skipped == "budget"


def test_the_poller_needs_no_bot_and_a_full_queue_loses_nothing(
    bot_state: BotStateStore, fake_client: FakeClient, frozen_clock: FrozenClock
) -> None:
    """Built from its parts alone: a refused message is given back and read again next round."""
    fake_client.rooms = [dict(ROOMS[0])]
    queue: list[Message] = []
    room_left = [0]
    errors: list[str] = []

    def submit(message: Message) -> bool:
        if room_left[0] <= 0:
            return False  # the queue is full
        room_left[0] -= 1
        queue.append(message)
        return True

    poller = Poller(
        fake_client,  # type: ignore[arg-type]
        bot_state,
        IdentityCache(FakeIdentityStore()),
        submit,
        on_error=lambda text, error_id=None: errors.append(text),
        clock=frozen_clock,
        interval_seconds=60,
        rooms=20,
        budget_per_minute=1000,
    )
    assert poller.poll_once().skipped == "bootstrap"
    first, second, third = (say(fake_client, "ROOM-A", f"/echo {n}") for n in range(3))

    room_left[0] = 1
    assert poller.poll_once().messages_queued == 1
    assert [m.id for m in queue] == [first.id]
    assert not bot_state.is_processed(second.id)  # given back, not lost

    room_left[0] = 10
    assert poller.poll_once().messages_queued == 2
    assert [m.id for m in queue] == [first.id, second.id, third.id]
    assert errors == []


def test_a_round_records_what_the_bot_card_shows(polling_bot: Bot, fake_client: FakeClient) -> None:
    poller = polling_bot.build_poller()
    poller.poll_once()  # bootstrap: no record yet
    assert polling_bot.state.value("last_poll_at") is None
    report = poller.poll_once()
    assert report.skipped is None
    state = polling_bot.state.snapshot()
    assert state.get("last_poll_at")
    assert state.get("poll_spaces") == len(ROOMS)
    assert state.get("poll_budget_per_minute") == poller.budget.per_minute
    assert 0 < state.get("poll_budget_used") <= poller.budget.per_minute
