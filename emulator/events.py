"""Which webhooks an event reaches, and the envelope Webex would POST to them."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from datetime import timedelta
from typing import Any

from tokenbot.emulator.ids import iso
from tokenbot.emulator.ids import make_id
from tokenbot.emulator.model import Message
from tokenbot.emulator.model import Person
from tokenbot.emulator.model import Room
from tokenbot.emulator.model import Webhook
from tokenbot.emulator.render import webhook_json
from tokenbot.emulator.state import EmulatorState

RESOURCE_EVENTS = {
    "messages": {"created", "deleted", "updated"},
    "memberships": {"created", "updated", "deleted"},
    "rooms": {"created", "updated"},
    "attachmentActions": {"created"},
    "all": {"created", "updated", "deleted"},
}
FILTER_KEYS = {
    "messages": {
        "roomId",
        "roomType",
        "personId",
        "personEmail",
        "mentionedPeople",
        "hasFiles",
        "hasAttachments",
    },
    "memberships": {"roomId", "personId", "personEmail", "isModerator"},
    "rooms": {"type", "isLocked"},
    "attachmentActions": {"messageId", "personId", "roomId"},
}
FILTER_KEYS["all"] = set().union(*FILTER_KEYS.values())


def parse_filter(text: str | None) -> dict[str, str]:
    """Split `k=v&k2=v2` into a dict."""
    pairs: dict[str, str] = {}
    for part in (text or "").split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs[key] = value
    return pairs


def message_data(message: Message, room: Room, author: Person, deleted: bool) -> dict[str, Any]:
    """Return the `data` of a message event: never the text, markdown or html."""
    data: dict[str, Any] = {
        "id": message.id,
        "roomId": room.id,
        "roomType": room.type,
        "personId": author.id,
        "personEmail": author.email,
    }
    if not deleted:
        if message.mentioned:
            data["mentionedPeople"] = [make_id("PEOPLE", uid) for uid in message.mentioned]
        if message.parent_uuid:
            data["parentId"] = make_id("MESSAGE", message.parent_uuid, message.cluster)
        if message.files:
            data["files"] = list(message.files)
    data["created"] = iso(message.created)
    return data


def _matches(
    state: EmulatorState,
    webhook: Webhook,
    room: Room,
    subject: Person | None,
    message: Message | None,
) -> bool:
    owner = state.people.get(webhook.owner_uuid)
    if owner is None:
        return False
    for key, value in parse_filter(webhook.filter).items():
        if key == "roomId" and value != room.id:
            return False
        if key in ("roomType", "type") and value != room.type:
            return False
        if key == "personId" and (subject is None or value != subject.id):
            return False
        if key == "personEmail" and (subject is None or value.lower() != subject.email):
            return False
        if key == "mentionedPeople":
            wanted = {
                owner.uuid if v == "me" else state.lookup("PEOPLE", v) for v in value.split(",")
            }
            if message is None or not wanted & set(message.mentioned):
                return False
        if key == "hasFiles" and (message is None or (value == "true") != bool(message.files)):
            return False
        if key == "hasAttachments" and (
            message is None or (value == "true") != bool(message.attachments)
        ):
            return False
    # Bots only hear group-room messages that mention them (facts section 4).
    if owner.type == "bot" and message is not None and room.type == "group":
        return owner.uuid in message.mentioned
    return True


def dispatch(
    state: EmulatorState,
    resource: str,
    event: str,
    room: Room,
    actor: Person,
    data: dict[str, Any],
    subject: Person | None = None,
    message: Message | None = None,
    action: Any = None,
) -> int:
    """Queue the event for every matching active webhook; return how many.

    `action` (a card submit) goes to the in-process listeners only (the Mercury hub).
    """
    queued = 0
    with state.lock:
        extra = {} if action is None else {"action": action}
        state.notify(resource, event, room, actor, subject=subject, message=message, **extra)
        for webhook in list(state.webhooks.values()):
            if webhook.status != "active":
                continue
            if webhook.resource not in (resource, "all"):
                continue
            if webhook.event not in (event, "all"):
                continue
            if not state.is_member(webhook.owner_uuid, room.uuid):
                continue
            if not _matches(state, webhook, room, subject, message):
                continue
            envelope = webhook_json(state, webhook)
            envelope.pop("secret", None)
            envelope.update(
                {"resource": resource, "event": event, "status": "active", "actorId": actor.id}
            )
            envelope["data"] = data
            body = json.dumps(envelope, separators=(",", ":")).encode("utf-8")
            headers = {"Content-Type": "application/json; charset=utf-8"}
            if webhook.secret:
                key = webhook.secret.encode("utf-8")
                headers["X-Spark-Signature"] = hmac.new(key, body, hashlib.sha1).hexdigest()
                if state.settings.webhook_sha256_signature:
                    headers["X-Webex-Signature"] = hmac.new(key, body, hashlib.sha256).hexdigest()
            if state.delivery is not None:
                state.delivery.enqueue(webhook.uuid, body, headers)
            queued += 1
    return queued


def record_result(state: EmulatorState, webhook_uuid: str, ok: bool, now: datetime) -> bool:
    """Count a delivery result; return True when the webhook is (still) active.

    Each failed attempt counts, retries included. The webhook turns `inactive` after
    `webhook_disable_threshold` failures within `webhook_disable_window` seconds, or at the
    first failure after a re-activation that came within that window of the disabling.
    """
    with state.lock:
        webhook = state.webhooks.get(webhook_uuid)
        if webhook is None:
            return False
        if ok:
            webhook.success_total += 1
            return webhook.status == "active"
        webhook.failure_total += 1
        window = timedelta(seconds=state.settings.webhook_disable_window)
        webhook.failures.append(now)
        while webhook.failures and now - webhook.failures[0] > window:
            webhook.failures.popleft()
        on_probation = (
            webhook.reactivated_at is not None
            and webhook.disabled_at is not None
            and webhook.reactivated_at - webhook.disabled_at <= window
            and now - webhook.reactivated_at <= window
        )
        if webhook.status == "active" and (
            len(webhook.failures) >= state.settings.webhook_disable_threshold or on_probation
        ):
            webhook.status = "inactive"
            webhook.disabled_at = now
            webhook.failures.clear()
        return webhook.status == "active"
