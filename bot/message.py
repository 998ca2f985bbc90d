"""The message the bot works on: a plain value built from the SDK's JSON, whichever SDK."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

__all__ = ["Message", "fold_email", "webex_time"]


def webex_time(text: object) -> datetime | None:
    """Read a Webex timestamp (`2026-01-01T10:00:00.123Z`, milliseconds optional), or None."""
    if not isinstance(text, str):
        return None
    for layout in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def fold_email(email: str) -> str:
    """Lower-case an ASCII address; leave any other as it is (no policy will match it).

    `str.lower` would fold look-alikes onto ASCII (the Kelvin sign U+212A becomes `k`).
    """
    return email.lower() if email.isascii() else email


@dataclass(frozen=True, slots=True)
class Message:
    """One Webex message, as `GET /v1/messages/{id}` describes it.

    `created` stays the string Webex sent (`2026-01-01T10:00:00.123Z`): it orders messages of a
    room by comparison with other Webex timestamps. Only two generous checks hold it against our
    own clock: the webhook's replay window and the dispatcher's `bot.late_command_seconds`.
    """

    id: str
    room_id: str
    person_id: str
    person_email: str
    room_type: str = "group"
    text: str = ""
    markdown: str | None = None
    html: str | None = None
    parent_id: str | None = None
    created: str = ""
    mentioned_people: tuple[str, ...] = field(default=())
    files: tuple[str, ...] = field(default=())

    @property
    def thread_id(self) -> str:
        """Return the id a reply's `parentId` must carry to land in this message's thread."""
        return self.parent_id or self.id

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """Build a message from Webex's JSON object (missing optional fields allowed)."""
        return cls(
            id=str(data["id"]),
            room_id=str(data.get("roomId") or ""),
            person_id=str(data.get("personId") or ""),
            person_email=fold_email(str(data.get("personEmail") or "")),
            room_type=str(data.get("roomType") or "group"),
            text=str(data.get("text") or ""),
            markdown=data.get("markdown"),
            html=data.get("html"),
            parent_id=data.get("parentId"),
            created=str(data.get("created") or ""),
            mentioned_people=tuple(data.get("mentionedPeople") or ()),
            files=tuple(str(url) for url in data.get("files") or ()),
        )
