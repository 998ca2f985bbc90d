"""Read Mercury `conversation.activity` frames: REST ids with the right cluster, and what
metadata alone settles before any REST call.

REST ids are unpadded base64url of `ciscospark://<cluster>/<TYPE>/<uuid>`. The cluster comes
from the activity: `target.globalId` (the room's REST id, cluster inside), else the catalog's
cluster id of the host in `target.url` (the JS SDK's rule: `urn:TEAM:us-east-2_a` and
`urn:TEAM:us-east-1_int13` mean `us`, any other id keeps its first three parts). A hard-coded
`us` makes every message of a non-US org a 404.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Activity", "cluster_of", "hydra_id", "parse_activity"]

_US_CLUSTERS = ("urn:TEAM:us-east-2_a", "urn:TEAM:us-east-1_int13")
_UUID = re.compile(r"[0-9a-fA-F-]{16,64}")


def hydra_id(kind: str, uuid: str, cluster: str) -> str:
    """Return the REST id of `uuid` of `kind` (MESSAGE, ROOM, ...) in `cluster`."""
    raw = f"ciscospark://{cluster}/{kind}/{uuid}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(webex_id: str) -> tuple[str, str, str] | None:
    try:
        raw = base64.urlsafe_b64decode(webex_id + "=" * (-len(webex_id) % 4)).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    parts = raw.split("/")
    if len(parts) != 5 or parts[0] != "ciscospark:" or parts[1] or not parts[2]:
        return None
    return parts[2], parts[3], parts[4]


def cluster_of(target: Mapping[str, Any], host_clusters: Mapping[str, str]) -> str | None:
    """Return the cluster of the activity's conversation, or None when nothing tells it."""
    global_id = target.get("globalId")
    if isinstance(global_id, str):
        decoded = _decode(global_id)
        if decoded is not None and decoded[1] == "ROOM":
            return decoded[0]
    url = target.get("url")
    if isinstance(url, str):
        host = urlsplit(url).netloc
        catalog_id = host_clusters.get(host) or host_clusters.get(host.split(":")[0])
        if catalog_id:
            if catalog_id.startswith(_US_CLUSTERS):
                return "us"
            return ":".join(catalog_id.split(":")[:3])
    return None


@dataclass(frozen=True, slots=True)
class Activity:
    """What an activity says without decrypting anything."""

    verb: str
    message_id: str | None
    room_id: str | None
    actor_uuid: str | None
    actor_email: str | None
    # A `cardAction` (a card submit): the submit's REST id, `ATTACHMENT_ACTION/<activity id>`,
    # and the card's, `MESSAGE/<parent id>`, both in the conversation's cluster (the JS SDK's
    # attachment-actions plugin).
    action_id: str | None = None
    card_id: str | None = None

    @property
    def person_id(self) -> str | None:
        """Return the actor's REST person id (people ids always name the `us` cluster)."""
        if self.actor_uuid is None or not _UUID.fullmatch(self.actor_uuid):
            return None
        return hydra_id("PEOPLE", self.actor_uuid, "us")


def parse_activity(activity: Any, host_clusters: Mapping[str, str]) -> Activity | None:
    """Return the parts of a hostile activity we use, or None when it is malformed."""
    if not isinstance(activity, dict):
        return None
    verb = activity.get("verb")
    target = activity.get("target")
    actor_block = activity.get("actor")
    actor: dict[str, Any] = actor_block if isinstance(actor_block, dict) else {}
    if not isinstance(verb, str) or not isinstance(target, dict):
        return None
    cluster = cluster_of(target, host_clusters)
    activity_uuid = activity.get("id")
    room_uuid = target.get("id")
    parent = activity.get("parent")
    parent_uuid = parent.get("id") if isinstance(parent, dict) else None
    message_id = room_id = action_id = card_id = None
    if cluster is not None:
        if isinstance(activity_uuid, str) and _UUID.fullmatch(activity_uuid):
            message_id = hydra_id("MESSAGE", activity_uuid, cluster)
            if verb == "cardAction":
                action_id = hydra_id("ATTACHMENT_ACTION", activity_uuid, cluster)
        if isinstance(room_uuid, str) and _UUID.fullmatch(room_uuid):
            room_id = hydra_id("ROOM", room_uuid, cluster)
        if verb == "cardAction" and isinstance(parent_uuid, str) and _UUID.fullmatch(parent_uuid):
            card_id = hydra_id("MESSAGE", parent_uuid, cluster)
    actor_uuid = actor.get("entryUUID") or actor.get("id")
    email = actor.get("emailAddress")
    return Activity(
        verb=verb,
        message_id=message_id,
        room_id=room_id,
        actor_uuid=str(actor_uuid) if isinstance(actor_uuid, str) else None,
        actor_email=email.lower() if isinstance(email, str) else None,
        action_id=action_id,
        card_id=card_id,
    )
