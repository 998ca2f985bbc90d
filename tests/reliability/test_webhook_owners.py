"""Webhooks do not outlive their owner, with a real `tokenbot serve` (issue 11, finding 7).

At start, serve removes our webhook (our name and our target) from every other connected
account, and leaves another deployment's (same name, other target) alone. Disconnecting an
account (`tokenbot accounts disconnect`, a separate process) deletes its webhook at Webex
before the token is wiped: afterwards nothing could.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import requests

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import wait_until
from tests.reliability.chat import registered_webhook
from tests.reliability.crowd import connect_bot_identity
from tests.reliability.deliveries import WEBHOOK_PATH
from tests.reliability.serve import ROOT
from tests.reliability.serve import Deployment
from tokenbot.core.clock import SystemClock

ELSEWHERE = "https://other-deployment.test/webhooks/webex"


def _hooks(emulator: EmulatorHandle, email: str) -> list[dict[str, Any]]:
    return [
        hook for hook in emulator.control("GET", "webhooks")["items"] if hook["ownerEmail"] == email
    ]


def _create_hook(emulator: EmulatorHandle, token: str, target: str) -> None:
    answer = requests.post(
        f"{emulator.api_url}webhooks",
        json={
            "name": "tokenbot",
            "targetUrl": target,
            "resource": "messages",
            "event": "created",
            "secret": "s" * 20,
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_strays_of_ours_go_at_start_and_another_deployments_stay(
    deploy: Callable[..., Deployment], emulator: EmulatorHandle, sqlite_url: str
) -> None:
    deployment = deploy(sqlite_url, bot={"enabled": True, "intake": "webhook"})
    target = deployment.public_url + WEBHOOK_PATH
    now = SystemClock().now()
    with deployment.runtime() as runtime:
        # bob was the bot identity once: his webhook of ours is a stray.
        connect_bot_identity(
            runtime.store, emulator, deployment.client_id, now=now, email="bob@example.com"
        )
        bob = runtime.tokens.access_token(runtime.store.bot_identity().id)
        connect_bot_identity(runtime.store, emulator, deployment.client_id, now=now)
    _create_hook(emulator, bob, target)
    _create_hook(emulator, bob, ELSEWHERE)
    serve = deployment.spawn("owners").wait_ready()
    registered_webhook(emulator, target)
    wait_until(
        lambda: [h["targetUrl"] for h in _hooks(emulator, "bob@example.com")] == [ELSEWHERE],
        timeout=15,
        what="bob's stray webhook removed, the other deployment's kept",
    )
    assert serve.stop() == 0, serve.stderr()[-3000:]


def test_a_disconnect_deletes_the_accounts_webhook_before_wiping_its_token(
    deploy: Callable[..., Deployment], emulator: EmulatorHandle, sqlite_url: str
) -> None:
    deployment = deploy(sqlite_url, bot={"enabled": True, "intake": "webhook"})
    target = deployment.public_url + WEBHOOK_PATH
    with deployment.runtime() as runtime:
        alice = connect_bot_identity(
            runtime.store, emulator, deployment.client_id, now=SystemClock().now()
        )
    serve = deployment.spawn("owner-leaves").wait_ready()
    registered_webhook(emulator, target)
    config = deployment.write_config("cli", {"bot": {"public_url": deployment.public_url}})
    done = subprocess.run(
        [sys.executable, "-m", "tokenbot", "accounts", "disconnect", str(alice), "--yes"],
        cwd=ROOT,
        env=deployment.env(config),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [h for h in _hooks(emulator, "alice@example.com") if h["targetUrl"] == target] == []
    assert serve.alive()
    assert serve.stop() == 0, serve.stderr()[-3000:]
