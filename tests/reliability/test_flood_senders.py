"""A flood from people the bot does not serve, against a real `tokenbot serve` (issue 11, 2).

The hostile pass: 30 `/ping` and 10 unknown commands from a sender in no allow-list within
half a second, the emulator limiting the user's token to 20 calls a minute, then the user's own
`/ping`. Before flood control: 17 replies posted as the user, 8 rate-limit answers, and the
user's `/ping` answered after 52 s. Now the flood costs at most the sender's bucket, the user's
command jumps the queue, and the emulator answers no 429 at all.

The long form (`make soak`): 1,000 commands from 10 senders.

Messages are posted through the control API before tokenbot registers its webhook (so the
emulator delivers none of them) and delivered by hand, signed, to the serve port.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import wait_until
from tests.reliability.chat import BOT_EMAIL
from tests.reliability.chat import ROOM
from tests.reliability.chat import registered_webhook
from tests.reliability.chat import replies_by_thread
from tests.reliability.crowd import connect_bot_identity
from tests.reliability.crowd import crowd_emails
from tests.reliability.deliveries import SIGNATURE_HEADER
from tests.reliability.deliveries import WEBHOOK_PATH
from tests.reliability.deliveries import envelope
from tests.reliability.deliveries import sign
from tests.reliability.serve import REDIRECT_URI
from tests.reliability.serve import Deployment
from tokenbot.core.clock import SystemClock

CALLS_PER_MINUTE = 20
# The long form sizes the bucket of everyone-but-the-user to the emulator's quota: 8 messages
# (a fetch and an answer each) plus the user's 2 calls stay under 20 a minute.
SIZED_TO_QUOTA = {"others_burst": 8, "others_per_minute": 1}
SIZES = [
    pytest.param(["carol@example.com"], 30, 10, {}, id="short"),
    pytest.param(
        crowd_emails(10),
        70,
        30,
        SIZED_TO_QUOTA,
        id="soak",
        marks=[pytest.mark.soak, pytest.mark.timeout(900)],
    ),
]


def _join(emulator: EmulatorHandle, room_id: str, emails: list[str]) -> None:
    """Add people to the room (as its member alice, through the real API)."""
    scopes = ["spark:memberships_write"]
    client_id, _ = emulator.register_integration([REDIRECT_URI], scopes)
    token = emulator.mint_token(client_id, BOT_EMAIL, scopes)["access_token"]
    for email in emails:
        answer = requests.post(
            f"{emulator.api_url}memberships",
            json={"roomId": room_id, "personEmail": email},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code in (200, 409), answer.text


@pytest.mark.parametrize(("senders", "pings", "unknown", "buckets"), SIZES)
def test_a_strangers_flood_neither_silences_the_user_nor_spends_their_quota(
    deploy: Callable[..., Deployment],
    emulator: EmulatorHandle,
    sqlite_url: str,
    senders: list[str],
    pings: int,
    unknown: int,
    buckets: dict[str, float],
) -> None:
    deployment = deploy(
        sqlite_url,
        bot={
            "enabled": True,
            "intake": "webhook",
            "allowed_emails": ["bob@example.com"],
            **buckets,
        },
    )
    emulator.settings(webhook_retries=0)
    room_id = emulator.room_id(ROOM)
    _join(emulator, room_id, [s for s in senders if s != "carol@example.com"])
    with deployment.runtime() as runtime:
        connect_bot_identity(runtime.store, emulator, deployment.client_id, now=SystemClock().now())
    texts = [f"/ping {n}" for n in range(pings)] + [f"/nosuch{n}" for n in range(unknown)]
    flood: list[dict[str, Any]] = [
        emulator.post_message(room_id, sender, text=text) for sender in senders for text in texts
    ]
    mine = emulator.post_message(room_id, BOT_EMAIL, text="/ping")
    serve = deployment.spawn("flood-senders").wait_ready()
    assert serve.public_url is not None
    hook_id = registered_webhook(emulator, serve.public_url + WEBHOOK_PATH)
    emulator.settings(rate_limit_per_minute=CALLS_PER_MINUTE, rate_limit_window_seconds=60)
    before = len(emulator.calls())

    session = requests.Session()

    def deliver(message: dict[str, Any]) -> int:
        body = envelope(hook_id, message)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(deployment.webhook_secret, body),
        }
        return session.post(
            serve.url + WEBHOOK_PATH, data=body, headers=headers, timeout=30
        ).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(deliver, flood))
    flooded = time.monotonic() - started
    asked = time.monotonic()
    assert deliver(mine) == 202
    wait_until(
        lambda: replies_by_thread(emulator, room_id).get(mine["id"]),
        timeout=90,
        interval=0.05,
        what="the user's /ping answered",
    )
    latency = time.monotonic() - asked
    assert serve.alive()
    limited = sum(1 for c in emulator.calls()[before:] if c["status"] == 429)
    answers = replies_by_thread(emulator, room_id)
    answered = sum(1 for m in flood if m["id"] in answers)
    emulator.settings(rate_limit_per_minute=None)
    metrics = requests.get(f"{serve.url}/metrics", timeout=5).text
    throttled = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("tokenbot_bot_throttled_total{")
    )
    assert serve.stop() == 0, serve.stderr()[-3000:]
    print(
        f"\nflood of {len(flood)} commands from {len(senders)} sender(s) sent in {flooded:.2f} s: "
        f"the user's /ping answered after {latency:.2f} s; {answered} flood replies posted, "
        f"{throttled:.0f} messages throttled, {limited} answers 429 from the emulator "
        f"({CALLS_PER_MINUTE} calls/min)"
    )
    assert set(statuses) <= {200, 202}
    assert "Traceback" not in serve.stderr()
    # Each sender gets at most their bucket (5 at once; the flood takes well under a minute),
    # all of them together at most the others' bucket.
    assert answered <= min(6 * len(senders), buckets.get("others_burst", 40) + 1)
    assert throttled >= len(flood) - answered - len(senders)
    assert latency < 5.0
    assert limited == 0
