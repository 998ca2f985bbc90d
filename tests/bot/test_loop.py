"""The background loop outlives a round that raises."""

from __future__ import annotations

import threading

import pytest

from tokenbot.bot.loop import Repeater


def test_a_failing_round_does_not_end_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []
    second = threading.Event()

    def work() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("database went away")
        second.set()

    loop = Repeater("test-loop", 0.01, work)
    loop.start()
    try:
        assert second.wait(10)
        assert loop.alive
    finally:
        loop.stop()
    assert not loop.alive
    assert any("a round failed" in r.getMessage() for r in caplog.records)
