"""The bot-side small items of issue 11, finding 10 (real SDK, WSGI server and emulator).

- Emails compare ASCII-only: the Kelvin sign (U+212A) must not fold to `k`.
- A signed webhook body nested 100,000 levels deep is a clear 400, not a 500.
- The webhook app's own error pages carry the security headers.
- A delivery with a missing or unparsable `created` fails the replay check.
- Reminders are capped per sender, not only in total.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.plugins.bot import SECRET
from tests.plugins.bot import BotEnv
from tests.reliability.deliveries import envelope
from tests.reliability.deliveries import sign
from tokenbot.bot.message import Message
from tokenbot.bot.router import AccessPolicy
from tokenbot.core.config import load_settings
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.errors import ConfigError

KELVIN = "\u212a"  # KELVIN SIGN: str.lower() makes it "k"


def _post(env: BotEnv, body: bytes) -> requests.Response:
    assert env.webhook_url is not None
    return requests.post(
        env.webhook_url,
        data=body,
        headers={"Content-Type": "application/json", "X-Spark-Signature": sign(SECRET, body)},
        timeout=30,
    )


def test_a_kelvin_sign_address_is_not_an_allowed_k_address() -> None:
    policy = AccessPolicy.of(emails=["bok@example.com"], domains=["kelvin.test"])
    assert policy.permits("bok@example.com", "ROOM")
    assert policy.permits("BOK@example.com", "ROOM")
    assert not policy.permits(f"bo{KELVIN}@example.com", "ROOM")
    assert not policy.permits(f"anyone@{KELVIN}elvin.test", "ROOM")
    # What Webex says a sender is stays as it is: no folding onto ASCII on the way in.
    sent = Message.from_json({"id": "M", "personEmail": f"BO{KELVIN}@example.com"})
    assert sent.person_email == f"BO{KELVIN}@example.com"
    with pytest.raises(ValueError, match="non-ASCII"):
        AccessPolicy.of(emails=[f"bo{KELVIN}@example.com"])


def test_the_config_refuses_a_non_ascii_allowed_address(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"bot:\n  allowed_emails: ['bo{KELVIN}@example.com']\n", encoding="utf-8")
    env = {
        "WEBEX_CLIENT_ID": "c",
        "WEBEX_CLIENT_SECRET": "s",
        "TOKENBOT_SECRET_KEY": secrets.token_urlsafe(48),
        "TOKENBOT_ENCRYPTION_KEYS": TokenCipher.generate_key_spec("k1"),
    }
    with pytest.raises(ConfigError, match=r"bot\.allowed_emails.*non-ASCII"):
        load_settings(path, env=env)


def test_a_deeply_nested_signed_body_is_a_clear_400(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook", max_body_bytes=256 * 1024)
    body = b"[" * 100_000 + b"]" * 100_000
    answer = _post(env, body)
    assert answer.status_code == 400
    assert answer.json() == {"status": "too_deep"}


def test_the_webhook_apps_error_pages_carry_the_security_headers(
    bot_env_factory: Callable[..., BotEnv],
) -> None:
    env = bot_env_factory("webhook")
    assert env.webhook_url is not None
    wrong_method = requests.get(env.webhook_url, timeout=10)
    too_large = requests.post(env.webhook_url, data=b"x" * (300 * 1024), timeout=10)
    accepted = requests.post(env.webhook_url, data=b"{}", timeout=10)
    for answer, status in ((wrong_method, 405), (too_large, 413), (accepted, 401)):
        assert answer.status_code == status
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("created", [None, "yesterday", "2026-13-45T99:99:99.000Z", 12345])
def test_a_delivery_without_a_readable_created_fails_the_replay_check(
    bot_env_factory: Callable[..., BotEnv], created: object
) -> None:
    env = bot_env_factory("webhook")
    hook_id = str(env.bot.registered_webhook_id())
    assert env.bot.upkeep is not None
    env.bot.upkeep.stop()
    env.bot.client.delete_webhook(hook_id)
    room = env.room("Project X")
    message_id = env.say(room, "bob@example.com", "/ping")
    message = next(m for m in env.room_messages(room) if m["id"] == message_id)
    message = {**message, "created": created}
    if created is None:
        del message["created"]
    answer = _post(env, envelope(hook_id, message))
    assert answer.status_code == 200 and answer.json() == {"status": "stale"}
    assert env.bot.pool.wait_idle(10)
    assert env.replies(room, message_id) == []
    assert env.emulator.calls(path=f"/v1/messages/{message_id}", method="GET") == []


def test_one_sender_cannot_take_every_reminder(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("webhook", reminders_per_sender=2, sender_burst=10)
    room = env.room("Team Space")
    asked = [env.say(room, "bob@example.com", f"/remind 1h r{n}") for n in range(3)]
    answers = [env.wait_replies(room, message_id)[0]["markdown"] for message_id in asked]
    # The workers take them in any order: two are set, one is refused.
    assert sorted("remind you" in a for a in answers) == [False, True, True]
    assert sum("2 reminders pending" in a for a in answers) == 1
    other = env.say(room, "carol@example.com", "/remind 1h mine")
    (reply,) = env.wait_replies(room, other)
    assert "remind you" in reply["markdown"]
