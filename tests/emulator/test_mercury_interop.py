"""Interop: an independent Mercury client (fbradyirl/webex_bot) works against the emulator.

webex_bot pins its own websockets; it lives in its own venv (`make test-webex-bot-interop`
builds `.venv-webexbot`, or set TOKENBOT_WEBEX_BOT_PYTHON to a Python that has it). Without
one the test is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

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


@pytest.mark.skipif(
    _python() is None, reason="no Python with webex_bot (make test-webex-bot-interop)"
)
def test_webex_bot_hears_a_message_through_the_emulator(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    python = _python()
    assert python is not None
    token = emulator.mint_token(SEED_CLIENT_ID, "alice@example.com", ["spark:all"])["access_token"]
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        process = subprocess.Popen(
            [python, str(SCRIPT), emulator.url, token],
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
        posted = emulator.post_message(emulator.room_id("Team Space"), "bob@example.com", "hi")
        process.wait(30)
        lines = [line for line in out.read_text().splitlines() if line.startswith("{")]
        assert lines, out.read_text()[-2000:]
        heard = json.loads(lines[-1])
        assert heard == {"id": posted["id"], "text": "hi"}
        devices = emulator.control("GET", "devices")["items"]
        assert any(d["name"] == "python-spark-client" for d in devices)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
