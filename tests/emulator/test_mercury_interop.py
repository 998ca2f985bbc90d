"""Interop: an independent Mercury client (fbradyirl/webex_bot) works against the emulator.

webex_bot pins its own websockets; it lives in its own venv (`make test-webex-bot-interop`
builds `.venv-webexbot`, or set TOKENBOT_WEBEX_BOT_PYTHON to a Python that has it). Without
one the test is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import wait_until
from tokenbot.emulator import SEED_CLIENT_ID

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("interop") / "webex_bot_client.py"


def _python() -> str | None:
    configured = os.environ.get("TOKENBOT_WEBEX_BOT_PYTHON")
    default = ROOT / ".venv-webexbot" / "bin" / "python"
    if configured:
        return configured
    return str(default) if default.exists() else None


@contextmanager
def _webex_bot(emulator: EmulatorHandle, tmp_path: Path, mode: str) -> Iterator[Path]:
    """Run webex_bot as alice until its socket is authorized; yield the file it prints to."""
    python = _python()
    assert python is not None
    token = emulator.mint_token(SEED_CLIENT_ID, "alice@example.com", ["spark:all"])["access_token"]
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        process = subprocess.Popen(
            [python, str(SCRIPT), emulator.url, token, mode],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        )
    try:
        wait_until(
            lambda: any(s["authorized"] for s in emulator.control("GET", "websockets")["items"]),
            timeout=30,
            what="webex_bot's socket to be authorized",
        )
        yield out
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _heard(out: Path) -> dict[str, Any]:
    lines = [line for line in out.read_text().splitlines() if line.startswith("{")]
    assert lines, out.read_text()[-2000:]
    heard: dict[str, Any] = json.loads(lines[-1])
    return heard


needs_webex_bot = pytest.mark.skipif(
    _python() is None, reason="no Python with webex_bot (make test-webex-bot-interop)"
)


@needs_webex_bot
def test_webex_bot_hears_a_message_through_the_emulator(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    with _webex_bot(emulator, tmp_path, "message") as out:
        posted = emulator.post_message(emulator.room_id("Team Space"), "bob@example.com", "hi")
    assert _heard(out) == {"id": posted["id"], "text": "hi"}
    devices = emulator.control("GET", "devices")["items"]
    assert any(d["name"] == "python-spark-client" for d in devices)


@needs_webex_bot
def test_webex_bot_hears_a_card_submit_through_the_emulator(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    # webex_bot's path for a cardAction: ask the conversation service named by target.url for
    # the submit's REST id, then GET /v1/attachment/actions/{id} with the SDK.
    card = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.3", "body": [], "actions": []},
    }
    room = emulator.room_id("Team Space")
    with _webex_bot(emulator, tmp_path, "card") as out:
        message = {"roomId": room, "personEmail": "alice@example.com", "text": "c"}
        posted = emulator.control("POST", "messages", {**message, "attachments": [card]})
        press = {"messageId": posted["id"], "personEmail": "bob@example.com"}
        pressed = emulator.control("POST", "attachment-actions", {**press, "inputs": {"k": "v"}})
    assert _heard(out) == {
        "id": pressed["id"],
        "messageId": posted["id"],
        "inputs": {"k": "v"},
        "actor": "bob@example.com",
    }
