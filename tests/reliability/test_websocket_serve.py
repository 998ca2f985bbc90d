"""Real `tokenbot serve` on the websocket: chaos on the socket, two instances, device hygiene.

- Chaos: commands arrive while the emulator closes the socket again and again (1006, 1011,
  4000 `replaced`, pong loss in the long form, and 4401 after the access token expired on
  Webex's clock): every command is answered exactly once.
- Two instances on PostgreSQL: one socket at a time; SIGKILL of the holder and the other holds
  the socket within the lease time, backfills, and nothing is lost or doubled.
- Device hygiene: after many restarts (half of them SIGKILL) at most one device of ours
  exists, and every device the person had before is still there.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import wait_until
from tests.reliability.chat import AUTHOR
from tests.reliability.chat import BOT_EMAIL
from tests.reliability.chat import ROOM
from tests.reliability.chat import UNTHROTTLED
from tests.reliability.chat import replies_by_thread
from tests.reliability.chat import wait_answered
from tests.reliability.crowd import BOT_SCOPES
from tests.reliability.crowd import connect_bot_identity
from tests.reliability.serve import Deployment
from tests.reliability.serve import ServeProcess
from tokenbot.core.clock import SystemClock
from tokenbot.core.listener_lease import NamedLeases

SCOPES = ("spark:all", "spark:kms", *BOT_SCOPES)
SOAK = [pytest.mark.soak, pytest.mark.timeout(3600)]
LEASE = 5


def _websocket_deployment(
    deploy: Callable[..., Deployment], emulator: EmulatorHandle, database_url: str
) -> Deployment:
    return deploy(
        database_url,
        webex={"u2c_url": f"{emulator.url}/u2c/api/v1"},
        bot={
            "enabled": True,
            "intake": "websocket",
            "allowed_emails": [AUTHOR],
            "listener_lease_seconds": LEASE,
            "workers": 8,
            "queue_size": 2000,
            "poll_api_budget_per_minute": 100_000,
            # One author's command storm: flood control (which screens the websocket too) is
            # not what these tests measure.
            **UNTHROTTLED,
        },
    )


def _sockets(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return [
        s
        for s in emulator.control("GET", "websockets")["items"]
        if s["email"] == BOT_EMAIL and s["authorized"]
    ]


def _ours(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return [
        d
        for d in emulator.control("GET", "devices")["items"]
        if d["ownerEmail"] == BOT_EMAIL and d["name"].startswith("tokenbot-")
    ]


def _post(emulator: EmulatorHandle, room_id: str, texts: list[str]) -> list[str]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda t: emulator.post_message(room_id, AUTHOR, text=t)["id"], texts))


def _exactly_once(emulator: EmulatorHandle, room_id: str, asked: list[str], timeout: float) -> None:
    wait_answered(emulator, room_id, asked, timeout=timeout)
    time.sleep(1.0)  # a duplicate would come right behind the first answer
    replies = replies_by_thread(emulator, room_id)
    doubled = [i for i in asked if len(replies.get(i, [])) != 1]
    assert not doubled, f"{len(doubled)} commands answered more than once"


CHAOS = [
    pytest.param(60, [1006, 1011, 4000, 4401], id="short"),
    pytest.param(
        1000,
        [1006, 1011, 4000, 4401, 1006, 1011, 4000, "pong", 1006, 1011]
        + [4000, 4401, 1006, 1011, 4000, "pong", 1006, 1011, 4000, 4401],
        id="soak",
        marks=SOAK,
    ),
]


@pytest.mark.parametrize(("commands", "faults"), CHAOS)
def test_every_command_is_answered_once_while_the_socket_keeps_closing(
    deploy: Callable[..., Deployment],
    emulator: EmulatorHandle,
    sqlite_url: str,
    commands: int,
    faults: list[Any],
) -> None:
    deployment = _websocket_deployment(deploy, emulator, sqlite_url)
    room_id = emulator.room_id(ROOM)
    with deployment.runtime() as runtime:
        connect_bot_identity(
            runtime.store, emulator, deployment.client_id, now=SystemClock().now(), scopes=SCOPES
        )
        serve = deployment.spawn("a").wait_ready()
        wait_until(lambda: _sockets(emulator), timeout=20, what="the socket")
        batches = [commands // (len(faults) + 1)] * (len(faults) + 1)
        batches[-1] += commands - sum(batches)
        asked: list[str] = []
        number = 0
        for index, size in enumerate(batches):
            texts = [f"/echo c{number + n}" for n in range(size)]
            number += size
            asked += _post(emulator, room_id, texts)
            if index == len(faults):
                break
            fault = faults[index]
            if fault == "pong":
                emulator.settings(mercury_answer_pings=False)
                wait_until(lambda: not _sockets(emulator), timeout=40, what="the pong loss")
                emulator.settings(mercury_answer_pings=True)
            elif fault == 4401:
                emulator.advance_clock(15 * 86400)  # the access token is dead on Webex's clock
                asked += _post(emulator, room_id, [f"/echo expired{index}"])
            else:
                emulator.control(
                    "POST", "websockets/close", {"email": BOT_EMAIL, "code": fault, "reason": ""}
                )
            wait_until(lambda: _sockets(emulator), timeout=60, what=f"a socket after {fault}")
        _exactly_once(emulator, room_id, asked, timeout=60 + commands * 0.2)
        assert emulator.control("GET", "webhooks")["items"] == []
        assert len(_ours(emulator)) == 1
        assert serve.stop() == 0
        assert _ours(emulator) == []  # a clean stop unregisters the device
        assert "Traceback" not in serve.stderr()


@pytest.mark.postgres
def test_two_instances_hold_one_socket_and_a_standby_takes_over_after_sigkill(
    deploy: Callable[..., Deployment], emulator: EmulatorHandle, postgres_url: str
) -> None:
    deployment = _websocket_deployment(deploy, emulator, postgres_url)
    room_id = emulator.room_id(ROOM)
    with deployment.runtime() as runtime:
        connect_bot_identity(
            runtime.store, emulator, deployment.client_id, now=SystemClock().now(), scopes=SCOPES
        )
        instances = {p.name: p for p in (deployment.spawn("a"), deployment.spawn("b"))}
        for instance in instances.values():
            instance.wait_ready()
        wait_until(lambda: _sockets(emulator), timeout=20, what="a socket")
        leases = NamedLeases(runtime.database, runtime.clock)
        asked = _post(emulator, room_id, [f"/echo before {n}" for n in range(20)])
        wait_answered(emulator, room_id, asked, timeout=30)
        assert len(_sockets(emulator)) == 1
        owner, _until = leases.holder("listener:default")
        assert owner is not None
        holder: ServeProcess = next(p for p in instances.values() if f":{p.pid}:" in owner)
        standby = next(p for p in instances.values() if p is not holder)
        holder.kill()
        killed_at = time.monotonic()
        asked += _post(emulator, room_id, [f"/echo gap {n}" for n in range(20)])
        wait_until(
            lambda: (h := leases.holder("listener:default")[0]) and f":{standby.pid}:" in h,
            timeout=LEASE * 3,
            what="the standby to take the lease",
        )
        wait_until(lambda: _sockets(emulator), timeout=LEASE * 3, what="the standby's socket")
        took = time.monotonic() - killed_at
        assert took < LEASE + LEASE / 3 + 5, took
        asked += _post(emulator, room_id, [f"/echo after {n}" for n in range(20)])
        _exactly_once(emulator, room_id, asked, timeout=60)
        assert len(_sockets(emulator)) == 1
        assert len(_ours(emulator)) == 1
        assert standby.stop() == 0


HYGIENE = [
    pytest.param(4, id="short"),
    pytest.param(50, id="soak", marks=SOAK),
]


@pytest.mark.parametrize("restarts", HYGIENE)
def test_restarts_leave_at_most_one_device_of_ours_and_every_other_device(
    deploy: Callable[..., Deployment], emulator: EmulatorHandle, sqlite_url: str, restarts: int
) -> None:
    before = {d["id"] for d in emulator.control("GET", "devices")["items"]}
    deployment = _websocket_deployment(deploy, emulator, sqlite_url)
    deployment.config["bot"]["listener_lease_seconds"] = LEASE
    room_id = emulator.room_id(ROOM)
    chance = random.Random(13)
    kills = set(chance.sample(range(restarts), restarts // 2))
    with deployment.runtime() as runtime:
        connect_bot_identity(
            runtime.store, emulator, deployment.client_id, now=SystemClock().now(), scopes=SCOPES
        )
        for run in range(restarts):
            serve = deployment.spawn(f"run{run}").wait_ready()
            wait_until(lambda: _sockets(emulator), timeout=LEASE * 4, what=f"run {run}'s socket")
            asked = _post(emulator, room_id, [f"/echo run {run}"])
            wait_answered(emulator, room_id, asked, timeout=30)
            if run in kills:
                serve.kill()  # the device stays; the next run reuses it by name
            else:
                assert serve.stop() == 0
            assert len(_ours(emulator)) <= 1
        left = {d["id"] for d in emulator.control("GET", "devices")["items"]}
        assert before <= left, "a device that is not ours was deleted"
