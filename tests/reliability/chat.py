"""Commands in the emulator's sandbox chat, and the bot's answers to them.

Commands are posted through the control API *before* tokenbot registers its webhook, so the
emulator delivers none of them: the test is the only one delivering, and knows exactly what it
sent. Answers are read back from the emulator's control API, by thread.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import wait_until

# Flood control out of the way: these scenarios load the intake itself from one allowed sender
# (tests/reliability/test_flood_senders.py proves flood control).
UNTHROTTLED = {
    "sender_burst": 10_000,
    "sender_per_minute": 100_000,
    "space_burst": 100_000,
    "space_per_minute": 1_000_000,
    "others_burst": 1_000_000,
    "others_per_minute": 10_000_000,
}
BOT_EMAIL = "alice@example.com"
AUTHOR = "bob@example.com"
ROOM = "Team Space"


def post_commands(emulator: EmulatorHandle, room_id: str, count: int) -> list[dict[str, Any]]:
    """Post `/echo n<i>` as `AUTHOR`, `count` times; return the Messages."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(
            pool.map(
                lambda n: emulator.post_message(room_id, AUTHOR, text=f"/echo n{n}"),
                range(count),
            )
        )


def replies_by_thread(emulator: EmulatorHandle, room_id: str) -> dict[str, list[dict[str, Any]]]:
    """Return the bot user's messages in `room_id`, grouped by the message they answer."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in emulator.control("GET", f"rooms/{room_id}/messages")["items"]:
        if message.get("personEmail") == BOT_EMAIL and message.get("parentId"):
            found[message["parentId"]].append(message)
    return found


def wait_answered(
    emulator: EmulatorHandle, room_id: str, message_ids: list[str], timeout: float
) -> dict[str, list[dict[str, Any]]]:
    """Wait until each of `message_ids` has at least one answer; return all answers."""

    def answered() -> dict[str, list[dict[str, Any]]] | None:
        replies = replies_by_thread(emulator, room_id)
        return replies if all(replies.get(i) for i in message_ids) else None

    return wait_until(
        answered, timeout=timeout, interval=0.2, what=f"{len(message_ids)} commands answered"
    )


def registered_webhook(emulator: EmulatorHandle, target_url: str, timeout: float = 15) -> str:
    """Wait until a webhook delivers to `target_url`; return its id."""

    def find() -> str | None:
        for hook in emulator.control("GET", "webhooks")["items"]:
            if hook["targetUrl"] == target_url and hook["status"] == "active":
                return str(hook["id"])
        return None

    return wait_until(find, timeout=timeout, interval=0.05, what=f"a webhook to {target_url}")
