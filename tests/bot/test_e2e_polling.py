"""End to end by polling: no public URL, the bot finds new messages itself."""

from __future__ import annotations

from collections.abc import Callable

from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until


def test_help_is_answered_by_polling_and_a_restart_neither_misses_nor_repeats(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("polling")
    assert env.emulator.control("GET", "webhooks")["items"] == []
    assert env.bot.poller is not None
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the first polling round")
    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/help")
    (reply,) = env.wait_replies(room, asked)
    assert "**Commands**" in reply["markdown"]
    assert env.bot.state.snapshot().get("mode") == "polling"

    env.bot.stop()
    while_down = env.say(room, "carol@example.com", "/echo while down")
    restarted = bot_env_factory("polling")  # same database: cursors and claims survive
    (late,) = restarted.wait_replies(room, while_down)
    assert late["markdown"] == "while down"
    again = restarted.say(room, "bob@example.com", "/ping")
    restarted.wait_replies(room, again)
    assert restarted.bot.pool.wait_idle(10)
    # /help was answered once, by the first bot; nothing was answered twice.
    assert len(restarted.replies(room, asked)) == 1
    assert len(restarted.replies(room, while_down)) == 1


def test_polling_honours_429_and_carries_on(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("polling")
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the first polling round")
    env.emulator.fault("/v1/rooms", method="GET", status=429, retry_after=1, count=1)
    wait_until(
        lambda: env.bot.state.value("poll_rate_limited_for") == 1,
        what="the poller to see the 429",
    )
    room = env.room("Project X")
    asked = env.say(room, "bob@example.com", "/ping")
    (reply,) = env.wait_replies(room, asked)
    assert reply["markdown"] == "pong"


def test_a_command_buried_under_many_messages_while_down_is_still_answered(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("polling")
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the first polling round")
    room = env.room("Team Space")
    env.bot.stop()
    # More new messages than one page (50) arrive while the bot is down; the command is oldest.
    asked = env.say(room, "bob@example.com", "/echo buried")
    for n in range(75):
        env.say(room, "carol@example.com", f"chatter {n}")
    restarted = bot_env_factory("polling")
    (reply,) = restarted.wait_replies(room, asked)
    assert reply["markdown"] == "buried"


def test_polling_survives_a_failing_round_and_idles_without_an_identity(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    from sqlalchemy.exc import OperationalError

    env = bot_env_factory("polling")
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the first polling round")
    poller = env.bot.poller
    assert poller is not None
    real_cursors = env.bot.state.cursors
    failures = iter([OperationalError("SELECT", {}, Exception("server closed the connection"))])

    def flaky() -> object:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_cursors()

    env.bot.state.cursors = flaky  # type: ignore[method-assign]
    room = env.room("Project X")
    asked = env.say(room, "bob@example.com", "/ping")
    (reply,) = env.wait_replies(room, asked)  # answered after the failed round
    assert reply["markdown"] == "pong"
    assert poller.alive
    assert "OperationalError" in str(env.bot.state.snapshot().get("last_error"))

    # Disconnected: polling idles quietly instead of recording an error every round.
    env.store.disconnect(env.account_id)
    env.bot.identity.invalidate()
    errors = env.bot.state.snapshot().counters.get("errors", 0)
    report = poller.poll_once()
    assert report.skipped == "no_identity"
    assert env.bot.state.snapshot().counters.get("errors", 0) == errors


def test_a_command_sent_right_after_connecting_is_answered_by_the_first_round(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    # The newcomer connects and types at once, before polling has run its first round: that
    # round must not file the command under "history, not replayed".
    asked: dict[str, str] = {}

    def type_at_once(env: BotEnv) -> None:
        asked["room"] = env.room("Team Space")
        asked["id"] = env.say(asked["room"], "bob@example.com", "/ping")

    env = bot_env_factory("polling", before_start=type_at_once)
    (reply,) = env.wait_replies(asked["room"], asked["id"])
    assert reply["markdown"] == "pong"
