"""The bot keeps working across token refreshes and expiry, and survives a revoked grant."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until
from tokenbot.core.models import AccountStatus


@pytest.fixture
def env(bot_env_factory: Callable[..., BotEnv]) -> BotEnv:
    return bot_env_factory("webhook")


def _ping(env: BotEnv, room: str) -> str:
    asked = env.say(room, "bob@example.com", "/ping")
    (reply,) = env.wait_replies(room, asked)
    return str(reply["markdown"])


def _settle(env: BotEnv) -> None:
    """Wait until our own reply has come back and been dropped: nothing else is in flight."""
    own = env.bot.metrics.deliveries.labels(intake="webhook", outcome="own_post")
    wait_until(lambda: own._value.get() >= 1, what="our reply's delivery")
    assert env.bot.pool.wait_idle(10)


def _unauthorized(env: BotEnv) -> list[dict[str, object]]:
    return [c for c in env.emulator.calls() if c.get("status") == 401]


def test_a_token_refreshed_in_the_store_is_used_without_restart(env: BotEnv) -> None:
    # Webex may revoke the old access token when it refreshes: using it would get a 401.
    env.emulator.settings(revoke_old_access_tokens_on_refresh=True)
    room = env.room("Team Space")
    assert _ping(env, room) == "pong"
    _settle(env)
    old = env.store.access_grant(env.account_id).access_token
    assert env.tokens.force_refresh(env.account_id).ok
    new = env.store.access_grant(env.account_id).access_token
    assert new != old
    assert _ping(env, room) == "pong"
    assert _unauthorized(env) == []  # the new token was read from the store, not learnt by 401


def test_an_access_token_expired_at_webex_is_refreshed_once_and_retried(env: BotEnv) -> None:
    room = env.room("Team Space")
    assert _ping(env, room) == "pong"
    _settle(env)
    before = env.store.access_grant(env.account_id).access_token
    env.emulator.advance_clock(1209599 + 60)  # past the lifetime, at Webex only
    assert _ping(env, room) == "pong"
    assert env.store.access_grant(env.account_id).access_token != before
    refreshes = [
        c for c in env.emulator.calls("/v1/access_token") if c.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 1
    assert len(_unauthorized(env)) == 1  # one 401, one refresh, one retry


def test_a_revoked_grant_is_recorded_and_commands_work_after_reconnecting(env: BotEnv) -> None:
    room = env.room("Team Space")
    assert _ping(env, room) == "pong"
    env.emulator.revoke(email="alice@example.com")
    lost = env.say(room, "bob@example.com", "/ping")
    wait_until(
        lambda: env.store.get(env.account_id).status == AccountStatus.NEEDS_REAUTH,
        what="the account to need a new login",
    )
    wait_until(
        lambda: "needs re-login" in str(env.bot.state.snapshot().get("last_error")),
        what="the bot to record the failure",
    )
    assert env.bot.pool.running  # nothing crashed
    assert env.replies(room, lost) == []
    env.connect_alice()
    assert _ping(env, room) == "pong"
