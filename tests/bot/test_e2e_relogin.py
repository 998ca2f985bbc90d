"""Commands sent while the bot identity needed re-login are answered after the Reconnect.

Against the emulator, with the real SDK: the user's grant is revoked (the bot's next call gets
401, the refresh `invalid_grant`, the account `needs_reauth`), people keep writing, the admin
reconnects. Webhook intake keeps what it could not even fetch (`core.reauth_waiting`) and
answers it once, in its thread; polling and websocket intake read it from their cursors. A
command older than `bot.late_command_seconds` is not run: its sender is told, once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from tests.bot.cards import press_button
from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until
from tokenbot.bot.factory import create_bot
from tokenbot.bot.service import Bot
from tokenbot.core.clock import SystemClock
from tokenbot.core.db import Database
from tokenbot.core.models import AccountStatus
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.token_service import TokenService

TOO_OLD = "too old to run now. Please send it again."


def _own_posts_screened(env: BotEnv, count: int = 1) -> None:
    """Wait until `count` of our own posts came back by webhook and were dropped."""
    wait_until(
        lambda: (
            (
                env.bot.metrics.registry.get_sample_value(
                    "tokenbot_bot_deliveries_total", {"intake": "webhook", "outcome": "own_post"}
                )
                or 0
            )
            >= count
        ),
        what="our own posts screened",
    )


def _lose_the_grant(env: BotEnv, room: str) -> str:
    """Revoke the user's grant at Webex; return the first command sent after it.

    Returns once the bot has met the dead token and the account needs re-login.
    """
    env.emulator.revoke(email=OWNER_EMAIL)
    first = env.say(room, "bob@example.com", "/ping")
    wait_until(
        lambda: env.store.get(env.account_id).status == AccountStatus.NEEDS_REAUTH,
        what="the account to need re-login",
    )
    return first


def _waiting(bot: Bot) -> int:
    assert bot.waiting is not None
    return bot.waiting.count()


def _markdowns(env: BotEnv, room: str, parent: str) -> list[str]:
    return [str(reply.get("markdown") or "") for reply in env.replies(room, parent)]


def test_webhook_commands_and_presses_meeting_a_dead_token_are_answered_once_after_reconnect(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Team Space")
    asked_help = env.say(room, "bob@example.com", "/help")
    (card,) = env.wait_replies(room, asked_help)
    _own_posts_screened(env)

    first = _lose_the_grant(env, room)
    in_thread = env.say(room, "carol@example.com", "/echo in its thread", parent_id=first)
    mine = env.say(room, OWNER_EMAIL, "/echo the user's own")
    chat = env.say(room, "bob@example.com", "just chatting, no command")
    press_button(env, card, "bob@example.com", "/ping")
    # Kept by id: four messages and the press (the chat too: nothing says what it is unfetched).
    wait_until(lambda: _waiting(env.bot) == 5, what="five kept for after the re-login")
    assert env.replies(room, first) == [] and env.replies(room, mine) == []

    reconnected = time.monotonic()
    env.connect_alice()
    wait_until(lambda: len(env.replies(room, first)) >= 2, what="the thread's two answers")
    wait_until(lambda: len(env.replies(room, mine)) >= 1, what="the user's own answer")
    wait_until(lambda: len(env.replies(room, asked_help)) >= 2, what="the press's answer")
    print(f"\nkept commands answered {time.monotonic() - reconnected:.1f} s after the Reconnect")
    assert env.bot.pool.wait_idle(10)
    time.sleep(2.5)  # a replayer round more: nothing is answered twice
    assert env.bot.pool.wait_idle(10)

    # Each in its own thread: the reply in a thread goes to the thread's root.
    assert sorted(_markdowns(env, room, first)) == ["in its thread", "pong"]
    assert _markdowns(env, room, mine) == ["the user's own"]
    assert _markdowns(env, room, asked_help)[1:] == ["pong"]  # the card, then the press's
    assert env.replies(room, chat) == []
    assert env.replies(room, in_thread) == []
    assert _waiting(env.bot) == 0


def test_a_command_too_old_is_not_run_and_its_sender_is_told_once(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook", late_command_seconds=3)
    room = env.room("Team Space")
    old = _lose_the_grant(env, room)
    reminder = env.say(room, "bob@example.com", "/remind 2s stand up")
    wait_until(lambda: _waiting(env.bot) == 2, what="two kept")
    time.sleep(3.5)  # both are older than the window now
    fresh = env.say(room, "carol@example.com", "/ping")
    wait_until(lambda: _waiting(env.bot) == 3, what="three kept")

    env.connect_alice()
    wait_until(lambda: env.replies(room, fresh), what="the fresh command's answer")
    wait_until(lambda: env.replies(room, reminder), what="the reminder's sender told")
    wait_until(lambda: env.replies(room, old), what="the old ping's sender told")
    assert env.bot.pool.wait_idle(10)
    assert _markdowns(env, room, fresh) == ["pong"]
    (told_ping,) = _markdowns(env, room, old)
    (told_reminder,) = _markdowns(env, room, reminder)
    assert "`/ping`" in told_ping and TOO_OLD in told_ping
    assert "`/remind`" in told_reminder and TOO_OLD in told_reminder
    assert env.bot.reminders.pending() == 0  # not run: no reminder set
    time.sleep(2.5)  # past the reminder's time, and a replayer round more
    assert len(env.replies(room, reminder)) == 1  # told once, never reminded
    assert len(env.replies(room, old)) == 1


def test_two_instances_on_one_database_answer_each_kept_command_once(
    bot_env_factory: Callable[..., BotEnv], sqlite_url: str
) -> None:
    env = bot_env_factory("webhook")
    clock = SystemClock()
    database = Database(sqlite_url)
    # A second instance: its own database connections, token service and worker pool.
    other = create_bot(
        options=env.bot.options,
        tokens=TokenService(env.store, env.oauth, clock=clock, policy=RefreshPolicy()),
        store=env.store,
        database=database,
        clock=clock,
        max_rate_limit_wait=5.0,
    )
    other.pool.start()
    try:
        bots = (env.bot, other)
        for bot in bots:
            assert bot.replayer is not None
            bot.replayer.stop()  # the test runs their rounds, at once
        room = env.room("Team Space")
        asked = [_lose_the_grant(env, room)]
        asked += [env.say(room, "carol@example.com", f"/echo number {n}") for n in range(5)]
        wait_until(lambda: _waiting(env.bot) == len(asked), what="all kept")
        env.connect_alice()
        other.identity.invalidate()

        queued: list[int] = []
        barrier = threading.Barrier(2)

        def round_of(bot: Bot) -> None:
            assert bot.replayer is not None
            barrier.wait()
            for _ in range(2):
                queued.append(bot.replayer.run_once())

        threads = [threading.Thread(target=round_of, args=(bot,)) for bot in bots]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for message_id in asked:
            env.wait_replies(room, message_id)
        for bot in bots:
            assert bot.pool.wait_idle(10)
        assert sum(queued) == len(asked)
        assert [m for m in asked if len(env.replies(room, m)) != 1] == []
        assert _waiting(env.bot) == 0
    finally:
        other.stop(timeout=5)
        database.dispose()


def test_polling_reads_what_was_sent_while_the_identity_needed_relogin(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("polling")
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="polling's first round")
    room = env.room("Team Space")
    first = _lose_the_grant(env, room)
    second = env.say(room, "carol@example.com", "/echo while the login was dead")
    wait_until(
        lambda: "needs re-login" in str(env.bot.state.snapshot().get("last_error")),
        what="polling to say why it stopped",
    )
    assert env.replies(room, first) == [] and env.replies(room, second) == []

    env.connect_alice()
    env.wait_replies(room, first)
    env.wait_replies(room, second)
    assert env.bot.pool.wait_idle(10)
    time.sleep(0.5)  # a few polling rounds more: nothing is answered twice
    assert env.bot.pool.wait_idle(10)
    assert _markdowns(env, room, first) == ["pong"]
    assert _markdowns(env, room, second) == ["while the login was dead"]


@pytest.mark.parametrize(
    "delivered", [False, True], ids=["socket-closed-4401", "activity-delivered-fetch-refused"]
)
def test_websocket_backfills_what_was_sent_while_the_identity_needed_relogin(
    bot_env_factory: Callable[..., BotEnv], delivered: bool
) -> None:
    env = bot_env_factory("websocket")
    # Mercury closes a socket whose token died (4401) before sending it anything more; with
    # `delivered`, the activity arrives first and its message fetch meets the dead token.
    env.emulator.settings(mercury_deliver_after_expiry=delivered)
    wait_until(
        lambda: (
            env.bot.state.value("websocket_state") == "connected"
            and env.bot.state.value("poll_watermark")
        ),
        what="the websocket connected and backfilled once",
    )
    room = env.room("Team Space")
    first = _lose_the_grant(env, room)
    second = env.say(room, "carol@example.com", "/echo while the login was dead")
    assert env.replies(room, first) == [] and env.replies(room, second) == []

    env.connect_alice()
    env.wait_replies(room, first, timeout=30)
    env.wait_replies(room, second, timeout=30)
    assert env.bot.pool.wait_idle(10)
    time.sleep(1.0)  # the socket's activities and the backfill both saw them: one answer
    assert env.bot.pool.wait_idle(10)
    assert _markdowns(env, room, first) == ["pong"]
    assert _markdowns(env, room, second) == ["while the login was dead"]
