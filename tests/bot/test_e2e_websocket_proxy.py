"""Through a corporate proxy: REST and the websocket both go via `webex.proxy_url`.

The proxy is proxy.py from PyPI, a real HTTP proxy on loopback (https would be tunnelled with
CONNECT; the websocket is, even to the emulator's plain ws://).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.plugins.bot import BotEnv
from tests.plugins.ports import free_port
from tests.plugins.tokens import wait_until


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Run proxy.py on a free loopback port; yield its URL and its log file."""
    port = free_port()
    log = tmp_path / "proxy.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "proxy",
                "--hostname", "127.0.0.1", "--port", str(port),
                "--num-workers", "1", "--num-acceptors", "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_connect_receive_and_reply_through_the_proxy(
    bot_env_factory: Callable[..., BotEnv], proxy: tuple[str, Path], emulator: object
) -> None:
    url, log = proxy
    env = bot_env_factory("websocket", proxy_url=url)
    wait_until(lambda: env.bot.state.value("websocket_state") == "connected", what="connect")
    room = env.room("Team Space")
    asked = env.say(room, "bob@example.com", "/ping")
    (reply,) = env.wait_replies(room, asked)
    assert reply["markdown"] == "pong"
    env.bot.stop()  # the proxy logs a tunnel when it closes
    emulator_port = urlsplit(env.emulator.url).port
    text = wait_until(
        lambda: (t := log.read_text()) and f"CONNECT 127.0.0.1:{emulator_port}" in t and t,
        what="the proxy's log of the websocket tunnel",
    )
    for call in ("GET 127.0.0.1:{p}/u2c/api/v1/catalog", "POST 127.0.0.1:{p}/wdm/",
                 "GET 127.0.0.1:{p}/v1/messages/", "POST 127.0.0.1:{p}/v1/messages"):  # fmt: skip
        assert call.format(p=emulator_port) in text, call
