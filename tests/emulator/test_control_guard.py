"""The control API answers tests and the chat page, not a web page the developer visits."""

from __future__ import annotations

import pytest
import requests

from tests.plugins.emulator import EmulatorHandle
from tokenbot.emulator import SEED_CLIENT_ID


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("reset", ""),
        ("tokens", f"client_id={SEED_CLIENT_ID}&email=alice@example.com"),
        ("grants/revoke", "email=alice@example.com"),
    ],
)
def test_a_cross_site_form_post_is_refused(emulator: EmulatorHandle, path: str, body: str) -> None:
    url = f"{emulator.url}/_emulator/{path}"
    # What a browser sends for <form method=post action=http://127.0.0.1:.../_emulator/...>.
    browser = {
        "Origin": "https://evil.test",
        "Sec-Fetch-Site": "cross-site",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    for headers in (
        browser,
        {"Origin": "https://evil.test"},
        {"Content-Type": "text/plain"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        assert answer.status_code == 403, (headers, answer.text)
    assert emulator.control("GET", "grants")["items"] == []  # nothing minted, nothing revoked


def test_json_from_a_test_client_or_the_same_origin_goes_through(emulator: EmulatorHandle) -> None:
    same = {"Origin": emulator.url, "Sec-Fetch-Site": "same-origin"}
    answer = requests.post(
        f"{emulator.url}/_emulator/clock", json={"advance_seconds": 1}, headers=same, timeout=10
    )
    assert answer.status_code == 200
    assert requests.post(f"{emulator.url}/_emulator/reset", timeout=10).status_code == 200


def test_the_webhook_list_never_shows_secrets(emulator: EmulatorHandle) -> None:
    token = emulator.mint_token(SEED_CLIENT_ID, "alice@example.com", ["spark:all"])
    created = requests.post(
        emulator.api_url + "webhooks",
        json={
            "name": "hook",
            "targetUrl": "http://127.0.0.1:9/hook",
            "resource": "messages",
            "event": "created",
            "secret": "a-webhook-secret-value",
        },
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    listing = requests.get(f"{emulator.url}/_emulator/webhooks", timeout=10)
    assert "a-webhook-secret-value" not in listing.text
    (hook,) = listing.json()["items"]
    assert hook["hasSecret"] is True and "secret" not in hook
