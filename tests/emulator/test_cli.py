"""`tokenbot emulator` prints what a human needs and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.plugins.processes import LineReader

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_prints_urls_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    stderr = (tmp_path / "stderr").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tokenbot", "emulator", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert process.stdout is not None
    output = LineReader(process.stdout)
    try:
        lines = [line.strip() for line in output.wait_for("Seed client secret", 30).splitlines()]
        api = next(line.split()[-1] for line in lines if line.startswith("Webex emulator API"))
        assert api.startswith("http://127.0.0.1:") and api.endswith("/v1/")
        chat = next(line.split()[-1] for line in lines if line.startswith("Sandbox chat"))
        assert requests.get(chat, timeout=10).status_code == 200
        assert any(line.startswith("Seed client id:      C") for line in lines)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        stderr.close()
    assert process.returncode == 0
    assert "Traceback" not in (tmp_path / "stderr").read_text()
    assert "Emulator stopped." in output.rest()
