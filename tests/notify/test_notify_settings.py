"""The `notify` section: endpoints, Webex target, and the signing secret from the environment."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.core.test_config import GOOD_ENV
from tokenbot.core.config import generate_notify_secret
from tokenbot.core.config import load_settings
from tokenbot.core.config import notify_secret_key
from tokenbot.core.errors import ConfigError
from tokenbot.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECRET = generate_notify_secret()
HOOK = {"webhooks": [{"url": "https://ops.example.com/hook", "events": ["account.needs_reauth"]}]}


def _load(notify: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    # The shipped config.yaml: its notify section holds only defaults.
    return load_settings(
        ROOT / "config.yaml", env=GOOD_ENV if env is None else env, overrides={"notify": notify}
    )


def test_endpoints_and_secret_are_read() -> None:
    settings = _load(
        {**HOOK, "webex": {"person_email": "Ops@Example.com"}},
        {**GOOD_ENV, "TOKENBOT_NOTIFY_SECRET": SECRET},
    )
    notify = settings.notify
    assert notify.webhooks[0].url == "https://ops.example.com/hook"
    assert notify.webhooks[0].events == ("account.needs_reauth",)
    assert notify.webex is not None and notify.webex.person_email == "ops@example.com"
    assert notify.secret is not None and notify.secret.reveal() == SECRET
    assert SECRET not in str(settings.masked()) and SECRET not in repr(settings)
    assert notify.relink_minutes == 30 and notify.enabled


def test_the_secret_can_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "notify.secret"
    path.write_text(SECRET + "\n", encoding="utf-8")
    settings = _load(HOOK, {**GOOD_ENV, "TOKENBOT_NOTIFY_SECRET_FILE": str(path)})
    assert settings.notify.secret is not None and settings.notify.secret.reveal() == SECRET


@pytest.mark.parametrize(
    ("notify", "env", "key", "words"),
    [
        (HOOK, {}, "TOKENBOT_NOTIFY_SECRET", "is not set"),
        (HOOK, {"TOKENBOT_NOTIFY_SECRET": "hunter2hunter2"}, "TOKENBOT_NOTIFY_SECRET", "whsec_"),
        (
            HOOK,
            {"TOKENBOT_NOTIFY_SECRET": "whsec_" + base64.b64encode(b"short").decode()},
            "TOKENBOT_NOTIFY_SECRET",
            "decodes to 5 bytes",
        ),
        (
            {"webhooks": [{"url": "http://ops.example.com/h"}]},
            None,
            "notify.webhooks[0].url",
            "http",
        ),
        (
            {"webhooks": [{"url": "https://x.example/h", "events": ["acount.recovered"]}]},
            None,
            "notify.webhooks[0].events",
            "account.recovered",
        ),
        (
            {"webhooks": [{"url": "https://x.example/h", "secret": "x"}]},
            None,
            "notify.webhooks[0].secret",
            "environment",
        ),
        (
            {"webex": {"room_id": "R", "person_email": "a@b.example"}},
            None,
            "notify.webex",
            "exactly one",
        ),
        ({"lease_seconds": 5, "timeout_seconds": 10}, None, "notify.lease_seconds", "twice"),
    ],
    ids=[
        "missing",
        "no-prefix",
        "too-short",
        "plain-http",
        "bad-event",
        "secret-in-file",
        "two-targets",
        "lease",
    ],
)
def test_bad_notify_settings_name_the_key(
    notify: dict[str, Any], env: dict[str, str] | None, key: str, words: str
) -> None:
    full_env = (
        {**GOOD_ENV, "TOKENBOT_NOTIFY_SECRET": SECRET} if env is None else {**GOOD_ENV, **env}
    )
    with pytest.raises(ConfigError) as caught:
        _load(notify, full_env)
    assert caught.value.key == key, caught.value
    assert words in str(caught.value)


def test_generated_secrets_decode_to_32_bytes() -> None:
    assert len(notify_secret_key(generate_notify_secret())) == 32
    assert generate_notify_secret() != generate_notify_secret()
