"""End to end over the Webex websocket: the real SDK, the emulator's Mercury socket, no URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import generate_latest

from tests.plugins.bot import OWNER_EMAIL
from tests.plugins.bot import BotEnv
from tests.plugins.tokens import wait_until


def _ours(env: BotEnv) -> list[dict[str, Any]]:
    return [
        d
        for d in env.emulator.control("GET", "devices")["items"]
        if d["ownerEmail"] == OWNER_EMAIL and d["name"].startswith("tokenbot-")
    ]


def _connected(env: BotEnv) -> Any:
    return wait_until(
        lambda: (
            env.bot.state.value("websocket_state") == "connected"
            and env.emulator.control("GET", "websockets")["items"]
        ),
        what="the websocket to connect",
    )


def test_help_is_answered_over_the_websocket_with_no_webhook(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("websocket")
    [socket] = _connected(env)
    assert socket["email"] == OWNER_EMAIL and socket["deviceName"] == "tokenbot-default"
    room = env.room("Team Space")
    # After the connect's backfill, so the command can only come over the socket.
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the backfill's first round")
    asked = env.say(room, "bob@example.com", "/help")
    (reply,) = env.wait_replies(room, asked)
    assert "**Commands**" in reply["markdown"]
    assert env.emulator.control("GET", "webhooks")["items"] == []
    assert env.bot.state.snapshot().get("mode") == "websocket"
    assert len(_ours(env)) == 1
    # The delivery is counted once the reply's POST has returned: just after it is visible.
    delivered = 'tokenbot_bot_deliveries_total{intake="websocket",outcome="ok"} 1.0'
    wait_until(
        lambda: delivered in generate_latest(env.bot.metrics.registry).decode(),
        timeout=10,
        what="the websocket delivery counted",
    )
    scraped = generate_latest(env.bot.metrics.registry).decode()
    for line in (
        "tokenbot_bot_websocket_connected 1.0",
        "tokenbot_bot_websocket_devices 1.0",
    ):
        assert line in scraped, line
    assert "tokenbot_bot_websocket_last_frame_seconds" in scraped
    assert "tokenbot_bot_events_backfilled_total" in scraped


def _ask(env: BotEnv, room: str, text: str, who: str = "bob@example.com") -> str:
    asked = env.say(room, who, text)
    env.wait_replies(room, asked)
    return asked


def _close(env: BotEnv, code: int, reason: str = "") -> None:
    closed = env.emulator.control(
        "POST", "websockets/close", {"email": OWNER_EMAIL, "code": code, "reason": reason}
    )
    assert closed["closed"] == 1


def test_every_command_is_answered_once_through_closes_expiry_and_pong_loss(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    # bob sends nine commands in a row: flood control (websocket intake screens too) is not
    # what this test is about.
    env = bot_env_factory("websocket", listener_lease_seconds=1.0, sender_burst=20)
    _connected(env)
    room = env.room("Team Space")
    asked = [_ask(env, room, "/ping")]
    for code in (1006, 1011, 4000):
        _close(env, code, "replaced" if code == 4000 else "")
        asked.append(env.say(room, "bob@example.com", f"/echo after {code}"))  # maybe no socket
        _connected(env)
        asked.append(_ask(env, room, f"/echo reconnected after {code}"))
    # Pong loss: the bot notices within the pong deadline and reconnects.
    intake = env.bot.websocket
    assert intake is not None
    before = intake.reconnects
    intake.ping_seconds, intake.pong_seconds = 0.2, 0.3
    env.emulator.settings(mercury_answer_pings=False)
    wait_until(lambda: intake.reconnects > before, what="a reconnect after the pongs stopped")
    env.emulator.settings(mercury_answer_pings=True)
    _connected(env)
    asked.append(_ask(env, room, "/echo after pong loss"))
    # The access token expires (Webex's clock moves on): the next delivery closes 4401, the
    # bot refreshes once through the store and hears the message on the new socket.
    env.emulator.advance_clock(15 * 86400)
    asked.append(env.say(room, "bob@example.com", "/echo after expiry"))
    env.wait_replies(room, asked[-1])
    assert env.emulator.calls("/v1/access_token", "POST")
    assert env.bot.pool.wait_idle(10)
    for message_id in asked:
        env.wait_replies(room, message_id)
        assert len(env.replies(room, message_id)) == 1, message_id
    assert len(_ours(env)) == 1


def test_backfill_answers_what_came_while_no_socket_was_open(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("websocket")
    _connected(env)
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the backfill's first round")
    env.bot.stop()
    assert _ours(env) == []  # a clean stop unregisters our device
    room = env.room("Team Space")
    while_down = env.say(room, "carol@example.com", "/echo while down")
    restarted = bot_env_factory("websocket")
    (reply,) = restarted.wait_replies(room, while_down)
    assert reply["markdown"] == "while down"
    # Counted when the backfill's round returns, which may be just after its reply is posted.
    wait_until(
        lambda: restarted.bot.state.snapshot().counters.get("events_backfilled", 0) >= 1,
        timeout=10,
        what="the backfill counted",
    )
    again = _ask(restarted, room, "/ping")
    assert restarted.bot.pool.wait_idle(10)
    assert len(restarted.replies(room, while_down)) == 1
    assert len(restarted.replies(room, again)) == 1


def test_dropped_while_disconnected_is_backfilled(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("websocket")
    _connected(env)
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the backfill's first round")
    env.emulator.settings(mercury_drop_while_offline=True)
    room = env.room("Project X")
    _close(env, 1006)
    asked = env.say(room, "bob@example.com", "/echo in the gap")
    (reply,) = env.wait_replies(room, asked)
    assert reply["markdown"] == "in the gap"
    assert env.bot.pool.wait_idle(10)
    assert len(env.replies(room, asked)) == 1


def test_non_us_cluster_messages_are_hydrated_with_their_cluster(
    bot_env_factory: Callable[..., BotEnv], emulator: Any
) -> None:
    emulator.settings(non_us_people=[OWNER_EMAIL])
    env = bot_env_factory("websocket")
    _connected(env)
    room = env.room("Team Space")
    asked = _ask(env, room, "/ping")
    assert env.replies(room, asked)[0]["markdown"] == "pong"
    fetched = [c for c in emulator.calls() if c["path"].startswith("/v1/messages/")]
    assert fetched and all(c["status"] == 200 for c in fetched)


def test_wrong_region_the_catalog_is_used(
    bot_env_factory: Callable[..., BotEnv], emulator: Any
) -> None:
    emulator.settings(wdm_region="r")
    env = bot_env_factory("websocket")
    [socket] = _connected(env)
    assert socket["region"] == "r"
    _ask(env, env.room("Team Space"), "/ping")


def test_our_device_is_reused_by_name_and_others_are_never_touched(
    bot_env_factory: Callable[..., BotEnv], emulator: Any
) -> None:
    seeded = {d["id"] for d in emulator.control("GET", "devices")["items"] if d["seeded"]}
    env = bot_env_factory("websocket")
    _connected(env)
    [first] = _ours(env)
    intake = env.bot.websocket
    assert intake is not None
    intake.devices.unregister = lambda: False  # type: ignore[method-assign]  # as if killed
    env.bot.stop()
    again = bot_env_factory("websocket")
    _connected(again)
    assert [d["id"] for d in _ours(again)] == [first["id"]]
    again.bot.stop()
    assert _ours(again) == []
    left = {d["id"] for d in emulator.control("GET", "devices")["items"]}
    assert seeded <= left


def test_excessive_registrations_never_delete_the_users_devices(
    bot_env_factory: Callable[..., BotEnv], emulator: Any
) -> None:
    emulator.settings(wdm_device_cap=2)  # alice's own desktop and phone fill it
    env = bot_env_factory("websocket")
    wait_until(
        lambda: str(env.bot.state.value("websocket_state", "")).startswith("stopped"),
        what="the intake to stop and say why",
    )
    assert "too many device registrations" in str(env.bot.state.value("last_error"))
    mine = [
        d for d in emulator.control("GET", "devices")["items"] if d["ownerEmail"] == OWNER_EMAIL
    ]
    assert len(mine) == 2 and all(d["seeded"] for d in mine)


def test_one_socket_across_instances_and_a_standby_takes_over(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    first = bot_env_factory("websocket", listener_lease_seconds=1.5)
    second = bot_env_factory("websocket", listener_lease_seconds=1.5)
    wait_until(
        lambda: (
            {first.bot.websocket.state, second.bot.websocket.state}  # type: ignore[union-attr]
            == {"connected", "standby"}
        ),
        what="one holder and one standby",
    )
    assert len(first.emulator.control("GET", "websockets")["items"]) == 1
    holder, standby = (
        (first, second) if first.bot.websocket.state == "connected" else (second, first)
    )  # type: ignore[union-attr]
    room = holder.room("Team Space")
    asked = _ask(holder, room, "/ping")
    # The holder dies without a goodbye: its lease lapses, the standby takes the socket.
    dead = holder.bot.websocket
    assert dead is not None
    dead._stop.set()
    dead._close_session(1000, "crash")
    dead._thread.join(5)  # type: ignore[union-attr]
    dead._lease = None  # nothing released: as after SIGKILL
    later = standby.say(room, "carol@example.com", "/echo after takeover")
    wait_until(lambda: standby.bot.websocket.state == "connected", timeout=10, what="takeover")  # type: ignore[union-attr]
    standby.wait_replies(room, later)
    assert standby.bot.pool.wait_idle(10) and holder.bot.pool.wait_idle(10)
    assert len(standby.replies(room, asked)) == 1
    assert len(standby.replies(room, later)) == 1


def test_webex_calls_per_answered_command_and_per_ignored_message(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("websocket")
    _connected(env)
    wait_until(lambda: env.bot.state.value("poll_watermark"), what="the backfill's first round")
    room = env.room("Team Space")
    _ask(env, room, "/ping")  # warm up: the SDK session, the identity
    assert env.bot.pool.wait_idle(10)

    def handled() -> float:
        total = 0.0
        for metric in env.bot.metrics.deliveries.collect():
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
        return total

    def rest_calls_for(action: Callable[[], object], events: int = 1) -> list[str]:
        env.emulator.control("DELETE", "calls")
        before = handled()
        action()
        wait_until(lambda: handled() >= before + events, what="the bot to handle the event")
        assert env.bot.pool.wait_idle(10)
        return [f"{c['method']} {c['path'].split('/')[2]}" for c in env.emulator.calls()]

    assert sorted(rest_calls_for(lambda: _ask(env, room, "/ping"), events=2)) == [
        "GET messages",
        "POST messages",
    ]  # the bot's own reply came back over the socket and cost nothing
    assert rest_calls_for(lambda: env.say(room, "bob@example.com", "just chatting")) == [
        "GET messages"
    ]
    posted: list[str] = []
    rest_calls_for(lambda: posted.append(env.say(room, "carol@example.com", "to delete")))
    chatter = posted[0]
    bob = env.emulator.mint_token(env.integration.client_id, "carol@example.com", ["spark:all"])
    import requests

    assert rest_calls_for(
        lambda: requests.delete(
            f"{env.emulator.api_url}messages/{chatter}",
            headers={"Authorization": f"Bearer {bob['access_token']}"},
            timeout=10,
        ).raise_for_status()
    ) == ["DELETE messages"]  # the test's own call: the bot spent none on the delete


def test_a_token_refresh_reconnects_with_the_new_token_and_loses_nothing(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("websocket")
    [first] = _connected(env)
    intake = env.bot.websocket
    assert intake is not None
    intake.token_check_seconds = 0.2
    room = env.room("Team Space")
    old = env.tokens.access_token(env.account_id)
    assert env.tokens.after_401(env.account_id, old) != old  # a refresh, as the scheduler does
    asked = env.say(room, "bob@example.com", "/echo around the refresh")
    wait_until(
        lambda: [
            s for s in env.emulator.control("GET", "websockets")["items"] if s["id"] != first["id"]
        ],
        what="a socket on the new token",
    )
    env.wait_replies(room, asked)
    again = _ask(env, room, "/ping")
    assert env.bot.pool.wait_idle(10)
    assert len(env.replies(room, asked)) == 1 and len(env.replies(room, again)) == 1


def test_4403_stops_the_intake_and_says_why(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("websocket")
    _connected(env)
    _close(env, 4403, "not entitled")
    wait_until(
        lambda: str(env.bot.state.value("websocket_state", "")).startswith("stopped:"),
        what="the intake to stop",
    )
    assert "4403" in str(env.bot.state.value("last_error"))
    assert env.emulator.control("GET", "websockets")["items"] == []
    intake = env.bot.websocket
    assert intake is not None and not intake.alive


def test_a_strangers_flood_is_silenced_beyond_their_bucket_without_a_call(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    # The websocket intake screens others' activities as the webhook does, before the fetch.
    env = bot_env_factory("websocket", sender_burst=2, sender_per_minute=0.1)
    _connected(env)
    room = env.room("Project X")
    answered = [_ask(env, room, "/ping", who="dave@example.com") for _ in range(2)]

    def delivered(outcome: str) -> float:
        value = env.bot.metrics.registry.get_sample_value(
            "tokenbot_bot_deliveries_total", {"intake": "websocket", "outcome": outcome}
        )
        return value or 0.0

    wait_until(lambda: delivered("own_post") >= 2, what="both pongs settled by id")
    env.emulator.control("DELETE", "calls")
    silenced = env.say(room, "dave@example.com", "/ping")
    wait_until(lambda: delivered("throttled") >= 1, what="the third /ping throttled")
    assert [c for c in env.emulator.calls() if c["path"].startswith("/v1/")] == []
    assert env.replies(room, silenced) == []
    assert env.bot.state.is_processed(silenced)  # claimed: no reconciliation answers it later
    assert all(len(env.replies(room, asked)) == 1 for asked in answered)
