"""The webhook endpoint: size cap, signature on raw bytes, parsing, de-duplication, 503."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

import tokenbot.bot.webhook as webhook_module
from tests.plugins.bot import SECRET
from tests.plugins.bot import FakeClient
from tests.plugins.tokens import wait_until
from tokenbot.bot.message import Message
from tokenbot.bot.service import Bot
from tokenbot.bot.webhook import create_webhook_app
from tokenbot.bot.webhook import verify_signature

PATH = "/webhooks/webex"


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def delivery(message_id: str, **extra: Any) -> bytes:
    payload = {
        "id": "HOOK-1",
        "resource": "messages",
        "event": "created",
        "data": {
            "id": message_id,
            "roomId": "ROOM-TEAM",
            "personEmail": "bob@example.com",
            "created": "2026-01-01T09:59:59.000Z",
        },
        **extra,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


@pytest.fixture
def running_bot(make_bot: Callable[..., Bot], fake_client: FakeClient) -> Bot:
    bot = make_bot(start=True)
    fake_client.add(
        Message(
            id="MSG-1",
            room_id="ROOM-TEAM",
            person_id="PB",
            person_email="bob@example.com",
            text="/ping",
        )
    )
    return bot


@pytest.fixture
def http(running_bot: Bot) -> FlaskClient:
    return create_webhook_app(running_bot).test_client()


def post(http: FlaskClient, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Spark-Signature"] = signature
    return http.post(PATH, data=body, headers=headers)


def test_signature_vectors() -> None:
    body = b'{"a": 1}'
    good = sign(body)
    assert verify_signature(SECRET, body, good)
    assert not verify_signature(SECRET, b'{"a": 2}', good)  # one byte changed
    assert not verify_signature(SECRET, b'{"a":1}', good)  # re-serialized JSON
    assert not verify_signature(SECRET, body, good.upper())
    assert not verify_signature(SECRET, body, good[:-1])
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, "é" * 40)
    assert not verify_signature("", body, good)


def test_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(webhook_module.hmac, "compare_digest", spy)
    assert verify_signature(SECRET, b"x", sign(b"x"))
    assert len(seen) == 1


def test_a_signed_delivery_is_accepted_and_answered(
    http: FlaskClient, running_bot: Bot, fake_client: FakeClient
) -> None:
    body = delivery("MSG-1")
    response = post(http, body, sign(body))
    assert response.status_code == 202
    wait_until(lambda: fake_client.posted, what="the reply")
    assert fake_client.posted[0].markdown == "pong"


@pytest.mark.parametrize("signature", [None, "0" * 40, "bad"])
def test_missing_or_wrong_signature_is_rejected_and_nothing_is_processed(
    http: FlaskClient, running_bot: Bot, fake_client: FakeClient, signature: str | None
) -> None:
    response = post(http, delivery("MSG-1"), signature)
    assert response.status_code == 401
    assert not running_bot.state.is_processed("MSG-1")
    assert running_bot.pool.pending() == 0 and fake_client.posted == []


def test_an_oversized_body_is_refused_before_hashing(
    http: FlaskClient, running_bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[bool] = []
    monkeypatch.setattr(webhook_module, "verify_signature", lambda *a: called.append(True))
    body = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    response = post(http, body, sign(body))
    assert response.status_code == 413
    assert called == []


def test_malformed_json_is_400_after_a_valid_signature(http: FlaskClient) -> None:
    for body in (b"{not json", b"[1, 2]", b'{"data": {"id": 5}}', b"\xff\xfe"):
        assert post(http, body, sign(body)).status_code == 400, body


def test_a_duplicated_delivery_acts_once(
    http: FlaskClient, running_bot: Bot, fake_client: FakeClient
) -> None:
    body = delivery("MSG-1")
    assert post(http, body, sign(body)).status_code == 202
    second = post(http, body, sign(body))
    assert second.status_code == 200 and second.get_json() == {"status": "duplicate"}
    assert running_bot.pool.wait_idle(10)
    assert len(fake_client.posted) == 1


def test_other_events_and_foreign_webhooks_are_not_processed(
    http: FlaskClient, running_bot: Bot
) -> None:
    body = delivery("MSG-1", event="deleted")
    assert post(http, body, sign(body)).get_json() == {"status": "not_a_new_message"}
    running_bot.state.set_values({"webhook_id": "HOOK-OURS"})
    body = delivery("MSG-1")
    assert post(http, body, sign(body)).status_code == 403
    assert not running_bot.state.is_processed("MSG-1")


def test_a_replayed_old_delivery_is_ignored(http: FlaskClient, running_bot: Bot) -> None:
    # The bot's clock is 2026-01-01 10:00; this message is an hour older.
    body = json.dumps(
        {
            "resource": "messages",
            "event": "created",
            "data": {"id": "MSG-1", "created": "2026-01-01T09:00:00.000Z"},
        }
    ).encode()
    assert post(http, body, sign(body)).get_json() == {"status": "stale"}
    assert not running_bot.state.is_processed("MSG-1")


def test_a_full_queue_answers_503_and_gives_the_message_back(
    make_bot: Callable[..., Bot], fake_client: FakeClient
) -> None:
    bot = make_bot(queue_size=1)  # workers not started: the queue fills
    http = create_webhook_app(bot).test_client()
    first, second = delivery("MSG-A"), delivery("MSG-B")
    assert post(http, first, sign(first)).status_code == 202
    response = post(http, second, sign(second))
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert not bot.state.is_processed("MSG-B")  # a retry may take it
