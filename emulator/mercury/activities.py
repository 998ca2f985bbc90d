"""Build `conversation.activity` envelopes the way Mercury sends them.

Shapes follow the JS SDK's plugins and webex_bot (docs/websocket.md): the activity id is the
message uuid for post/share, `object.displayName` and `object.content` are opaque ciphertext
(Webex encrypts them with KMS keys; a REST-hydrating client never needs to read them), and
`target.globalId` is the room's REST id, cluster included.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING
from typing import Any

from tokenbot.emulator.ids import iso
from tokenbot.emulator.model import Message
from tokenbot.emulator.model import Person
from tokenbot.emulator.model import Room

if TYPE_CHECKING:
    from tokenbot.emulator.rest.attachment_actions import AttachmentAction

_JWE_HEADER = (
    base64.urlsafe_b64encode(json.dumps({"alg": "dir", "enc": "A256GCM"}).encode())
    .rstrip(b"=")
    .decode()
)


def ciphertext() -> str:
    """Return a JWE-shaped opaque string: random, so it reveals nothing of the text."""

    def part(size: int) -> str:
        return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()

    return f"{_JWE_HEADER}..{part(12)}.{part(48)}.{part(16)}"


def actor_json(person: Person) -> dict[str, Any]:
    """Return the activity's actor block."""
    return {
        "id": person.uuid,
        "entryUUID": person.uuid,
        "objectType": "person",
        "type": "PERSON" if person.type == "person" else person.type.upper(),
        "emailAddress": person.email,
        "displayName": person.display_name,
    }


def target_json(base_url: str, room: Room) -> dict[str, Any]:
    """Return the conversation the activity happened in."""
    return {
        "id": room.uuid,
        "objectType": "conversation",
        "url": f"{base_url}/conversation/api/v1/conversations/{room.uuid}",
        "tags": ["ONE_ON_ONE"] if room.type == "direct" else [],
        "globalId": room.id,
    }


def activity(
    base_url: str,
    verb: str,
    room: Room,
    actor: Person,
    *,
    published: str,
    message: Message | None = None,
    subject: Person | None = None,
    action: AttachmentAction | None = None,
) -> dict[str, Any]:
    """Return one activity (`verb`: post, share, update, delete, add, leave, cardAction).

    A `cardAction` is a card submit (the JS SDK's `conversation.cardAction`): its id is the
    submit's uuid (REST id `ATTACHMENT_ACTION/<id>` in the room's cluster), `object` is
    `{objectType: "submit", inputs: <ciphertext>}` and `parent` names the card message with
    type `cardAction`.
    """
    if message is not None and verb in ("post", "share"):
        activity_id = message.uuid
    elif action is not None and verb == "cardAction":
        activity_id = action.uuid
    else:
        activity_id = str(uuid.uuid4())
    key = uuid.uuid5(uuid.NAMESPACE_URL, room.uuid)
    body: dict[str, Any] = {
        "id": activity_id,
        "objectType": "activity",
        "verb": verb,
        "published": published,
        "url": f"{base_url}/conversation/api/v1/activities/{activity_id}",
        "encryptionKeyUrl": f"kms://kms-cisco.wbx2.com/keys/{key}",
        "actor": actor_json(actor),
        "target": target_json(base_url, room),
    }
    if verb in ("post", "share", "update") and message is not None:
        obj: dict[str, Any] = {
            "id": message.uuid,
            "objectType": "content" if message.files else "comment",
            "displayName": ciphertext(),
        }
        if message.markdown:
            obj["content"] = ciphertext()
        if message.mentioned:
            obj["mentions"] = {
                "items": [{"id": uid, "objectType": "person"} for uid in message.mentioned]
            }
        if message.files:
            obj["contentCategory"] = "documents"
            obj["files"] = {
                "items": [
                    {"objectType": "file", "url": ciphertext(), "malwareQuarantineState": "safe"}
                    for _ in message.files
                ]
            }
        body["object"] = obj
        if message.parent_uuid:
            body["parent"] = {"id": message.parent_uuid, "type": "reply"}
    elif verb == "cardAction" and action is not None:
        # The inputs travel encrypted like a comment's text; a client reads them by REST.
        body["object"] = {"objectType": "submit", "inputs": ciphertext()}
        body["parent"] = {"id": action.message_uuid, "type": "cardAction"}
    elif verb == "delete" and message is not None:
        body["object"] = {"id": message.uuid, "objectType": "activity"}
    elif verb in ("add", "leave") and subject is not None:
        body["object"] = {
            "id": subject.uuid,
            "objectType": "person",
            "emailAddress": subject.email,
            "entryUUID": subject.uuid,
        }
    return body


def envelope(payload: dict[str, Any], sequence: int | None) -> dict[str, Any]:
    """Wrap `data` in Mercury's envelope (an id to ack, a sequence number, timestamps)."""
    now_ms = int(time.time() * 1000)
    frame: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "data": payload,
        "timestamp": now_ms,
        "trackingId": f"EMU_MERCURY_{uuid.uuid4()}",
        "alertType": "full",
        "headers": {},
        "wsWriteTimestamp": now_ms,
    }
    if sequence is not None:
        frame["sequenceNumber"] = sequence
    return frame


def now_iso(moment: Any) -> str:
    """Format an emulator time as Webex does."""
    return iso(moment)
