"""`tokenbot demo` as a newcomer runs it: a subprocess, walked over HTTP, stopped by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.e2e.newcomer import connect_webex
from tests.e2e.newcomer import log_in
from tests.plugins.ports import free_port
from tests.plugins.processes import LineReader
from tests.plugins.tokens import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_demo_walks_the_newcomers_path_and_stops_cleanly(tmp_path: Path) -> None:
    port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "TOKENBOT_"))}
    stderr_path = tmp_path / "demo.stderr"
    stderr_file = stderr_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokenbot",
            "demo",
            "--port",
            str(port),
            "--emulator-port",
            str(emulator_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr_file,  # a file: a chatty child can never fill a pipe and stall
        text=True,
    )
    assert process.stdout is not None
    output = LineReader(process.stdout)
    try:
        banner = output.wait_for("tokenbot ready", timeout=60)
        password = re.search(r"Password:\s+(\S+)", banner)
        assert password is not None, banner
        panel = f"http://127.0.0.1:{port}"
        assert f"{panel}/" in banner and f"127.0.0.1:{emulator_port}/_emulator/spaces" in banner

        http = requests.Session()
        log_in(http, panel, "admin", password.group(1))
        account_page = connect_webex(http, panel, "alice@example.com")
        assert account_page.status_code == 200 and "alice@example.com" in account_page.text

        # Bob types /help in Team Space; the bot (on Alice's token) answers there.
        control = f"http://127.0.0.1:{emulator_port}/_emulator"
        rooms = requests.get(f"{control}/rooms", params={"email": "bob@example.com"}, timeout=10)
        room = next(r["id"] for r in rooms.json()["items"] if r["title"] == "Team Space")

        def answered() -> bool:
            # The bot opens its websocket within seconds of the connect; ask until it answers.
            asked = requests.post(
                f"{control}/messages",
                json={"roomId": room, "personEmail": "bob@example.com", "text": "/help"},
                timeout=10,
            ).json()["id"]
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                items = requests.get(f"{control}/rooms/{room}/messages", timeout=10).json()["items"]
                if any(
                    m.get("parentId") == asked
                    and m.get("personEmail") == "alice@example.com"
                    and "/ping" in (m.get("markdown") or m.get("text") or "")
                    for m in items
                ):
                    return True
                time.sleep(0.2)
            return False

        wait_until(answered, timeout=30, what="the bot's answer to /help")
        # Over the websocket: no webhook was registered, one socket is open for Alice.
        assert requests.get(f"{control}/webhooks", timeout=10).json()["items"] == []
        sockets = requests.get(f"{control}/websockets", timeout=10).json()["items"]
        assert [s["email"] for s in sockets] == ["alice@example.com"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError("tokenbot demo did not stop within 30 s of SIGTERM") from None
        finally:
            stderr_file.close()
    stderr = stderr_path.read_text()
    assert process.returncode == 0, stderr[-3000:]
    assert "tokenbot stopped" in output.rest()
    assert "Traceback" not in stderr, stderr[-3000:]
