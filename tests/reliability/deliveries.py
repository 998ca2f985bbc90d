"""Webhook deliveries made by hand: the Webex envelope, its signature, and a fast sender.

We sign as Webex does (`X-Spark-Signature`: hex HMAC-SHA1 of the exact body bytes, keyed with
the webhook secret) and send from a thread pool as fast as the client can. A 503 (the bot's
queue is full) is sent again after a short pause, as Webex retries a failed delivery; every
other answer is final and recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

SIGNATURE_HEADER = "X-Spark-Signature"
WEBHOOK_PATH = "/webhooks/webex"


def sign(secret: str, body: bytes) -> str:
    """Return Webex's signature of `body`."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def envelope(webhook_id: str, message: dict[str, Any]) -> bytes:
    """Return the body Webex posts for a new message (data carries no text), serialized once."""
    data = {
        key: message[key]
        for key in ("id", "roomId", "roomType", "personId", "personEmail", "created")
        if key in message
    }
    body = {
        "id": webhook_id,
        "name": "tokenbot",
        "resource": "messages",
        "event": "created",
        "status": "active",
        "actorId": message.get("personId"),
        "created": message.get("created"),
        "data": data,
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def forge(rng: random.Random, secret: str, body: bytes) -> str | None:
    """Return a wrong signature for `body`: absent, keyed wrong, off by one digit, or cut."""
    good = sign(secret, body)
    kind = rng.randrange(5)
    if kind == 0:
        return None
    if kind == 1:
        return sign(secret + "x", body)
    if kind == 2:
        flipped = "0" if good[7] != "0" else "1"
        return good[:7] + flipped + good[8:]
    if kind == 3:
        return good[:-2]
    return good.upper()  # Webex sends lowercase; the check is exact


@dataclass(frozen=True)
class Delivery:
    """One POST to make: which message it is about, its body, and its signature header."""

    message_id: str
    body: bytes
    signature: str | None
    good: bool


@dataclass
class Sent:
    """What one delivery got: its final status and how many 503s it met first."""

    delivery: Delivery
    status: int
    retries: int
    target: str


def send_all(
    targets: Sequence[str],
    deliveries: Sequence[Delivery],
    *,
    threads: int = 16,
    deadline_seconds: float = 120.0,
) -> list[Sent]:
    """POST each delivery to each of `targets` from `threads` threads; retry 503s.

    Returns:
        One `Sent` per delivery and target, in no particular order.

    Raises:
        AssertionError: A delivery still met 503 when the deadline passed.
    """
    deadline = time.monotonic() + deadline_seconds
    local = threading.local()
    sessions: list[requests.Session] = []
    lock = threading.Lock()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            with lock:
                sessions.append(local.session)
        return local.session  # type: ignore[no-any-return]

    def post(job: tuple[str, Delivery]) -> Sent:
        target, delivery = job
        headers = {"Content-Type": "application/json"}
        if delivery.signature is not None:
            headers[SIGNATURE_HEADER] = delivery.signature
        retries = 0
        while True:
            response = session().post(
                target + WEBHOOK_PATH, data=delivery.body, headers=headers, timeout=30
            )
            if response.status_code != 503:
                return Sent(delivery, response.status_code, retries, target)
            if time.monotonic() > deadline:
                raise AssertionError(f"still 503 for {delivery.message_id} at the deadline")
            retries += 1
            # Webex retries a failed delivery later; we pause briefly rather than 1 s.
            time.sleep(0.02 * min(retries, 10))

    jobs = [(target, delivery) for delivery in deliveries for target in targets]
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(post, jobs))
    finally:
        for each in sessions:
            each.close()
