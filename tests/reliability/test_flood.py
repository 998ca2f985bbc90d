"""Webhook flood: signed deliveries as fast as a client can send, against a real serve process.

Of the deliveries, 10 % repeat one already sent (a Webex retry: the same bytes) and 5 % carry a
bad signature (absent, keyed wrong, one digit off, cut short, upper case) for messages that are
never delivered intact. A 503 (the bot's queue is full) is retried like Webex would.

Proven: every good command is answered exactly once (and with its own text), no badly signed one
is processed (401, and no answer), the process stays up and healthy, and its memory stays
bounded: the peak resident set (VmHWM) of the whole `tokenbot serve` process stays under
`RSS_LIMIT_MIB`. The bound: the process idles at roughly 80-90 MiB (Python, SQLAlchemy,
Flask, waitress, APScheduler, the Webex SDK); the bot's queue is bounded (`bot.queue_size`)
and waitress runs 8 threads, so a flood may add buffers but not grow without end.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections import defaultdict
from collections.abc import Callable

import pytest
import requests

from tests.plugins.emulator import EmulatorHandle
from tests.reliability.chat import ROOM
from tests.reliability.chat import UNTHROTTLED
from tests.reliability.chat import post_commands
from tests.reliability.chat import registered_webhook
from tests.reliability.chat import replies_by_thread
from tests.reliability.chat import wait_answered
from tests.reliability.crowd import connect_bot_identity
from tests.reliability.deliveries import WEBHOOK_PATH
from tests.reliability.deliveries import Delivery
from tests.reliability.deliveries import envelope
from tests.reliability.deliveries import forge
from tests.reliability.deliveries import send_all
from tests.reliability.deliveries import sign
from tests.reliability.serve import Deployment
from tokenbot.core.clock import SystemClock

# Deliveries sent: the short form runs in `make test`, the long one in `make soak`.
SIZES = [
    pytest.param(300, id="short"),
    pytest.param(2000, id="soak", marks=[pytest.mark.soak, pytest.mark.timeout(1800)]),
]
DUPLICATES = 0.10
BAD_SIGNATURES = 0.05
RSS_LIMIT_MIB = 250


@pytest.mark.parametrize("total", SIZES)
def test_a_flood_of_signed_deliveries_answers_every_good_command_exactly_once(
    deploy: Callable[..., Deployment],
    emulator: EmulatorHandle,
    sqlite_url: str,
    total: int,
) -> None:
    duplicates = int(total * DUPLICATES)
    bad = int(total * BAD_SIGNATURES)
    good = total - duplicates - bad
    deployment = deploy(
        sqlite_url,
        bot={
            "enabled": True,
            "intake": "webhook",
            "allowed_emails": ["bob@example.com"],
            **UNTHROTTLED,
        },
    )
    # The emulator's own deliveries (of the bot's answers) go to a proxy that is down: no retries.
    emulator.settings(webhook_retries=0)
    room_id = emulator.room_id(ROOM)
    with deployment.runtime() as runtime:
        connect_bot_identity(runtime.store, emulator, deployment.client_id, now=SystemClock().now())
    messages = post_commands(emulator, room_id, good + bad)
    serve = deployment.spawn("flood").wait_ready()
    assert serve.public_url is not None
    hook_id = registered_webhook(emulator, serve.public_url + WEBHOOK_PATH)
    idle_kib = serve.rss_kib()

    rng = random.Random(total)
    secret = deployment.webhook_secret
    intact = [
        Delivery(m["id"], body, sign(secret, body), True)
        for m in messages[:good]
        for body in [envelope(hook_id, m)]
    ]
    forged = [
        Delivery(m["id"], body, forge(rng, secret, body), False)
        for m in messages[good:]
        for body in [envelope(hook_id, m)]
    ]
    deliveries = intact + rng.choices(intact, k=duplicates) + forged
    rng.shuffle(deliveries)

    started = time.monotonic()
    sent = send_all([serve.url], deliveries, threads=16)
    sending = time.monotonic() - started
    wait_answered(emulator, room_id, [d.message_id for d in intact], timeout=60)
    answering = time.monotonic() - started
    assert serve.alive()
    assert requests.get(f"{serve.url}/healthz", timeout=5).status_code == 200
    peak_kib = serve.rss_kib("VmHWM")
    # Graceful: the queue drains before the process ends.
    assert serve.stop() == 0, serve.stderr()[-3000:]
    log = serve.stderr()
    assert "Traceback" not in log, log[-3000:]

    by_message: defaultdict[str, Counter[int]] = defaultdict(Counter)
    for each in sent:
        by_message[each.delivery.message_id][each.status] += 1
    for delivery in intact:
        statuses = by_message[delivery.message_id]
        # Exactly one delivery of each message was taken on; its repeats were acknowledged.
        assert statuses[202] == 1 and set(statuses) <= {200, 202}, statuses
    assert all(by_message[d.message_id] == Counter({401: 1}) for d in forged)

    answers = replies_by_thread(emulator, room_id)
    assert [d.message_id for d in forged if d.message_id in answers] == []
    texts = {m["id"]: m["text"].removeprefix("/echo ") for m in messages}
    for delivery in intact:
        (reply,) = answers[delivery.message_id]
        assert reply["text"] == texts[delivery.message_id]
    assert set(answers) == {d.message_id for d in intact}

    retried = sum(each.retries for each in sent)
    print(
        f"\nflood: {total} deliveries ({good} good, {duplicates} repeats, {bad} forged) sent in "
        f"{sending:.1f} s, {retried} retries after 503, all answered after {answering:.1f} s; "
        f"RSS idle {idle_kib / 1024:.0f} MiB, peak {peak_kib / 1024:.0f} MiB"
    )
    assert peak_kib < RSS_LIMIT_MIB * 1024
