"""Files: the bytes of message attachments, their scan state, and the cards a message carries.

Webex keeps an uploaded file under `/v1/contents/{id}` and scans it for malware before anyone
may download it: `GET` answers 423 + `Retry-After` while scanning, 410 when infected and 428
when it could not be scanned (unless `?allow=unscannable`). Each stored file carries its own
scan state so tests can walk that ladder; `file_scan_seconds` sets how long a new upload scans.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.ids import make_id
from tokenbot.emulator.ids import new_uuid
from tokenbot.emulator.state import EmulatorState

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SCAN_STATES = ("clean", "scanning", "infected", "unscannable")


@dataclass
class Content:
    """One uploaded file: its bytes, who may read it (the room's members) and its scan state."""

    uuid: str
    filename: str
    content_type: str
    data: bytes
    room_uuid: str | None
    owner_uuid: str
    created: datetime
    scan: str = "clean"
    clean_at: datetime | None = None

    @property
    def id(self) -> str:
        """Return the Webex content id."""
        return make_id("CONTENT", self.uuid)

    def state_at(self, now: datetime) -> str:
        """Return the scan state at `now` (`scanning` turns `clean` at `clean_at`)."""
        if self.scan == "scanning" and self.clean_at is not None and now >= self.clean_at:
            self.scan, self.clean_at = "clean", None
        return self.scan

    def retry_after(self, now: datetime) -> int:
        """Return whole seconds until the scan ends (at least 1, as Webex never sends 0)."""
        if self.clean_at is None:
            return 5
        return max(1, math.ceil((self.clean_at - now).total_seconds()))


def store_file(
    state: EmulatorState, owner_uuid: str, filename: str, content_type: str, data: bytes
) -> Content:
    """Keep an upload's bytes (not yet bound to a room) under a new content id."""
    limit = state.settings.file_max_bytes
    if len(data) > limit:
        raise WebexError(413, f"The file is too large: the limit is {limit} bytes.")
    if not filename or "/" in filename or "\\" in filename:
        raise WebexError(400, "The files part needs a plain file name.")
    now = state.clock.now()
    content = Content(
        uuid=new_uuid(),
        filename=filename,
        content_type=content_type or "application/octet-stream",
        data=data,
        room_uuid=None,
        owner_uuid=owner_uuid,
        created=now,
    )
    seconds = state.settings.file_scan_seconds
    if seconds > 0:
        content.scan, content.clean_at = "scanning", now + timedelta(seconds=seconds)
    with state.lock:
        state.contents[content.uuid] = content
    return content


def set_scan(
    state: EmulatorState, content: Content, scan: str, clean_after: float | None = None
) -> None:
    """Set a file's scan state; `scanning` with `clean_after` seconds turns clean by itself."""
    if scan not in SCAN_STATES:
        raise ValueError(f"scan must be one of {', '.join(SCAN_STATES)}, got {scan!r}")
    with state.lock:
        content.scan = scan
        content.clean_at = None
        if scan == "scanning" and clean_after is not None:
            content.clean_at = state.clock.now() + timedelta(seconds=clean_after)


def content_from_url(state: EmulatorState, url: str) -> Content | None:
    """Return the stored file a `/v1/contents/{id}` URL names, or None (any other URL)."""
    head, sep, tail = url.partition("/v1/contents/")
    if not sep or not head:
        return None
    uid = state.lookup("CONTENT", tail.split("?", 1)[0])
    return state.contents.get(uid) if uid else None


def bind_files(state: EmulatorState, author_uuid: str, room_uuid: str, files: list[str]) -> None:
    """Tie the author's uploads named in `files` to the room the message went to."""
    for url in files:
        content = content_from_url(state, url)
        if content is None:
            continue
        if content.room_uuid is None and content.owner_uuid == author_uuid:
            content.room_uuid = room_uuid
        elif content.room_uuid != room_uuid:
            # Re-sharing a file from another room would leak it to this room's members.
            raise WebexError(400, "The file belongs to another space; upload it again.")


def validate_attachments(state: EmulatorState, attachments: Any) -> list[dict[str, Any]]:
    """Check a message's `attachments`: a list of at most one Adaptive Card, size-capped."""
    if attachments in (None, []):
        return []
    if not isinstance(attachments, list):
        raise WebexError(400, "attachments must be a list of one card.")
    if len(attachments) > 1:
        raise WebexError(400, "Only one card per message is supported.")
    card = attachments[0]
    kind = card.get("contentType") if isinstance(card, dict) else None
    if kind != CARD_TYPE:
        raise WebexError(400, f"Invalid attachment contentType {kind!r}: use {CARD_TYPE!r}.")
    content = card.get("content")
    if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
        raise WebexError(400, 'A card\'s content must be an object with "type": "AdaptiveCard".')
    size = len(json.dumps(card, separators=(",", ":")).encode("utf-8"))
    limit = state.settings.card_max_bytes
    if size > limit:
        raise WebexError(400, f"The card is too large: {size} bytes, the limit is {limit}.")
    actions = content.get("actions") or []
    if not isinstance(actions, list):
        raise WebexError(400, "A card's actions must be a list.")
    if len(actions) > state.settings.card_max_actions:
        raise WebexError(400, f"A card may have at most {state.settings.card_max_actions} actions.")
    return [card]
