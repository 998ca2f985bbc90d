"""`tokenbot emulator` prints what a human needs and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_prints_urls_and_stops_on_sigterm() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenbot", "emulator", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while not any(line.startswith("Seed client secret") for line in lines):
            assert time.monotonic() < deadline, f"no banner: {lines}"
            line = process.stdout.readline()
            assert line, f"emulator exited early: {process.stderr.read() if process.stderr else ''}"
            lines.append(line.strip())
        api = next(line.split()[-1] for line in lines if line.startswith("Webex emulator API"))
        assert api.startswith("http://127.0.0.1:") and api.endswith("/v1/")
        chat = next(line.split()[-1] for line in lines if line.startswith("Sandbox chat"))
        assert requests.get(chat, timeout=10).status_code == 200
        assert any(line.startswith("Seed client id:      C") for line in lines)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in err
    assert "Emulator stopped." in out
