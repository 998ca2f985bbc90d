"""Which Webex SDK the bot runs on, proven against the emulator with the real SDK.

`make test` runs this suite with webexpythonsdk; `make test-bot-teamssdk` runs it again in a
second environment that has only webexteamssdk 1.7, with TOKENBOT_WEBEX_SDK=webexteamssdk.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable

import pytest

from tests.plugins.bot import BotEnv
from tokenbot.bot.sdk import SDK_ENV
from tokenbot.bot.sdk import load_sdk
from tokenbot.core.errors import ConfigError

EXPECTED = os.environ.get(SDK_ENV) or "webexpythonsdk"
CLASSES = {"webexpythonsdk": "WebexAPI", "webexteamssdk": "WebexTeamsAPI"}


def test_the_expected_sdk_is_loaded() -> None:
    sdk = load_sdk()
    assert sdk.name == EXPECTED
    assert sdk.api_class.__name__ == CLASSES[EXPECTED]
    assert sdk.api_class.__module__.split(".")[0] == EXPECTED
    if EXPECTED == "webexteamssdk":
        assert sdk.version == "1.7"


def test_the_bot_really_talks_through_that_sdk(bot_env_factory: Callable[..., BotEnv]) -> None:
    env = bot_env_factory("webhook")
    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/ping")
    (reply,) = env.wait_replies(room, asked)
    assert reply["markdown"] == "pong"
    # The object that made those calls is the expected SDK's API class.
    api = env.bot.client._api
    assert type(api).__name__ == CLASSES[EXPECTED]
    assert type(api).__module__.split(".")[0] == EXPECTED


def test_unknown_or_missing_sdks_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown SDK"):
        load_sdk("webexsdk9000")
    missing = [name for name in CLASSES if importlib.util.find_spec(name) is None]
    for name in missing:
        with pytest.raises(ConfigError, match="is not installed"):
            load_sdk(name)
