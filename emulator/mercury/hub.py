"""WDM devices and Mercury connections: who is registered, who is listening, what is unacked.

Every sandbox person starts with two devices of their own (a desktop and a phone) that no
websocket ever opens: a client that deletes devices it does not own shows up as a missing
seeded device. Frames for a device are numbered per device (`sequenceNumber`) and kept until
acked; a device that reconnects within `mercury_redelivery_seconds` gets its unacked frames
again. A device that once had a socket keeps collecting frames while it has none (unless
`mercury_drop_while_offline`). `mercury_drop_activities` keeps sockets open and delivers nothing.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from collections import OrderedDict
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

from tokenbot.emulator.ids import iso
from tokenbot.emulator.mercury.activities import activity
from tokenbot.emulator.mercury.activities import envelope
from tokenbot.emulator.model import Message
from tokenbot.emulator.model import Person
from tokenbot.emulator.model import Room
from tokenbot.emulator.state import EmulatorState
from tokenbot.emulator.tokens import resolve_access_token

log = logging.getLogger("emulator.mercury")

# How many frames an offline device collects before the oldest are dropped.
_MAX_PENDING = 2000
# How many sent activity frames a device remembers for a replay.
_RECENT = 20
SEEDED_DEVICES = (
    ("DESKTOP", "Webex Desktop", "MacBookPro18,1"),
    ("IPHONE", "iPhone", "iPhone15,2"),
)


@dataclass
class Device:
    """One WDM registration of a person."""

    uuid: str
    owner_uuid: str
    name: str
    device_type: str
    model: str
    localized_model: str
    system_name: str
    system_version: str
    region: str
    created: datetime
    modified: datetime
    seeded: bool = False
    ever_connected: bool = False
    sequence: int = 0
    # envelope id -> (frame, when first queued); insertion order is sequence order.
    pending: OrderedDict[str, tuple[dict[str, Any], datetime]] = field(default_factory=OrderedDict)
    # The last activity frames sent, acked or not: the control API's `replay` sends them again.
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_RECENT))


@dataclass
class Connection:
    """One open Mercury websocket."""

    id: str
    device_uuid: str
    region: str
    ws: Any
    connected_since: datetime
    person_uuid: str | None = None
    token: str | None = None
    authorized: bool = False
    acks: list[str] = field(default_factory=list)
    sent: int = 0
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    closed: threading.Event = field(default_factory=threading.Event)
    close_code: int | None = None


class MercuryHub:
    """Hold devices and sockets for one `EmulatorState`; reset with it."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.lock = threading.RLock()
        self.devices: dict[str, Device] = {}
        self.connections: dict[str, Connection] = {}
        state.event_listeners.append(self.on_event)
        state.reset_hooks.append(self.reset)
        self.base_url = "http://127.0.0.1"
        self.reset()

    # -- devices ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Close every socket and re-seed each person's own devices."""
        self.close_all(1001, "going away")
        with self.lock:
            self.devices = {}
            now = self.state.clock.now()
            for person in self.state.people.values():
                for device_type, name, model in SEEDED_DEVICES:
                    device = Device(
                        uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{person.uuid}/{device_type}")),
                        owner_uuid=person.uuid,
                        name=f"{person.first_name}'s {name}",
                        device_type=device_type,
                        model=model,
                        localized_model=name,
                        system_name=name,
                        system_version="44.10",
                        region="a",
                        created=now,
                        modified=now,
                        seeded=True,
                    )
                    self.devices[device.uuid] = device

    def devices_of(self, person_uuid: str) -> list[Device]:
        """Return a person's devices, oldest first."""
        with self.lock:
            found = [d for d in self.devices.values() if d.owner_uuid == person_uuid]
        return sorted(found, key=lambda d: d.created)

    def register(self, person: Person, body: dict[str, Any], region: str) -> Device:
        """Create a device from a WDM body (the caller checked the cap)."""
        now = self.state.clock.now()

        def text(key: str, default: str) -> str:
            value = body.get(key)
            return str(value)[:256] if isinstance(value, str | int | float) else default

        device = Device(
            uuid=str(uuid.uuid4()),
            owner_uuid=person.uuid,
            name=text("name", text("deviceName", "unnamed")),
            device_type=text("deviceType", "UNKNOWN"),
            model=text("model", ""),
            localized_model=text("localizedModel", ""),
            system_name=text("systemName", ""),
            system_version=text("systemVersion", ""),
            region=region,
            created=now,
            modified=now,
        )
        with self.lock:
            self.devices[device.uuid] = device
        return device

    def delete(self, device_uuid: str) -> Device | None:
        """Unregister a device; its open sockets close with 4000 (it is gone)."""
        with self.lock:
            device = self.devices.pop(device_uuid, None)
            victims = [c for c in self.connections.values() if c.device_uuid == device_uuid]
        for connection in victims:
            self.close(connection, 1000, "device unregistered")
        return device

    def device_json(self, device: Device, base_url: str) -> dict[str, Any]:
        """Render a device the way WDM answers (`url` and `webSocketUrl` on this emulator)."""
        ws_base = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return {
            "url": f"{base_url}/wdm/{device.region}/api/v1/devices/{device.uuid}",
            "webSocketUrl": (
                f"{ws_base}/mercury/{device.region}/v1/apps/wx2/registrations/"
                f"{device.uuid}/messages"
            ),
            "userId": device.owner_uuid,
            "orgId": self.state.org_uuid,
            "deviceType": device.device_type,
            "name": device.name,
            "model": device.model,
            "localizedModel": device.localized_model,
            "systemName": device.system_name,
            "systemVersion": device.system_version,
            "creationTime": iso(device.created),
            "modificationTime": iso(device.modified),
            "services": {
                "conversationServiceUrl": f"{base_url}/conversation/api/v1",
                "encryptionServiceUrl": f"{base_url}/encryption/api/v1",
                "wdmServiceUrl": f"{base_url}/wdm/{device.region}/api/v1",
            },
            "features": {"developer": [], "entitlement": [], "user": []},
        }

    # -- sockets ---------------------------------------------------------------------------

    def open(self, device: Device, ws: Any, region: str) -> Connection:
        """Note a new socket for `device` (not yet authorized)."""
        connection = Connection(
            id=str(uuid.uuid4()),
            device_uuid=device.uuid,
            region=region,
            ws=ws,
            connected_since=self.state.clock.now(),
        )
        with self.lock:
            self.connections[connection.id] = connection
        return connection

    def authorize(self, connection: Connection, token: str) -> int | None:
        """Check the auth frame's token; return a close code, or None when authorized.

        A newer socket of the same device replaces an older one (4000 `replaced`), as Mercury
        does without `multipleConnections`.
        """
        found = resolve_access_token(self.state, token)
        if found is None:
            return 4401
        _grant, person = found
        with self.lock:
            device = self.devices.get(connection.device_uuid)
            if device is None or device.owner_uuid != person.uuid:
                return 4403
            older = [
                c
                for c in self.connections.values()
                if c.device_uuid == device.uuid and c.authorized and c.id != connection.id
            ]
            connection.person_uuid = person.uuid
            connection.token = token
            connection.authorized = True
            device.ever_connected = True
        for old in older:
            self.close(old, 4000, "replaced")
        return None

    def ready(self, connection: Connection) -> None:
        """Send `mercury.buffer_state`, then the device's unacked frames still in the window."""
        self.send(
            connection,
            envelope(
                {
                    "eventType": "mercury.buffer_state",
                    "bufferState": {"conversation": "UNKNOWN", "locus": "UNKNOWN"},
                },
                None,
            ),
        )
        window = timedelta(seconds=self.state.settings.mercury_redelivery_seconds)
        now = self.state.clock.now()
        with self.lock:
            device = self.devices.get(connection.device_uuid)
            if device is None:
                return
            for key, (_frame, queued) in list(device.pending.items()):
                if now - queued > window:
                    del device.pending[key]
            frames = [frame for frame, _ in device.pending.values()]
        for frame in frames:
            self.send(connection, frame)

    def ack(self, connection: Connection, message_id: Any) -> None:
        """Record an ack (any id form); an envelope id of ours stops its redelivery."""
        key = str(message_id)
        with self.lock:
            connection.acks.append(key)
            device = self.devices.get(connection.device_uuid)
            if device is None:
                return
            if key in device.pending:
                del device.pending[key]
                return
            # webex_bot acks the REST message id, kiro_crew the activity id: accept both.
            for envelope_id, (frame, _) in list(device.pending.items()):
                found = frame.get("data", {}).get("activity", {})
                if key in (found.get("id"), frame.get("_rest_id")):
                    del device.pending[envelope_id]
                    return

    def send(self, connection: Connection, frame: dict[str, Any]) -> bool:
        """Send one frame; False when the socket is gone."""
        public = {k: v for k, v in frame.items() if not k.startswith("_")}
        try:
            with connection.send_lock:
                connection.ws.send(json.dumps(public))
                connection.sent += 1
            return True
        except Exception:  # a socket closing under us: the frame stays pending
            return False

    def close(self, connection: Connection, code: int, reason: str = "") -> None:
        """Close a socket with `code`; 1006 drops the TCP connection with no close frame."""
        with self.lock:
            self.connections.pop(connection.id, None)
        connection.close_code = code
        try:
            with connection.send_lock:
                if code == 1006:
                    sock = getattr(connection.ws, "sock", None)
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                else:
                    connection.ws.close(reason=code, message=reason)
        except Exception:
            log.debug("socket already closed")
        connection.closed.set()

    def forget(self, connection: Connection) -> None:
        """Drop a connection that ended by itself."""
        with self.lock:
            self.connections.pop(connection.id, None)
        connection.closed.set()

    def close_all(self, code: int, reason: str, email: str | None = None) -> int:
        """Close the sockets (of one person, by email) with `code`; return how many."""
        person = self.state.person_by_email(email) if email else None
        if email and person is None:
            return 0
        with self.lock:
            victims = [
                c
                for c in self.connections.values()
                if person is None or c.person_uuid == person.uuid
            ]
        for connection in victims:
            self.close(connection, code, reason)
        return len(victims)

    def replay(self, email: str, count: int, verb: str | None = None) -> int:
        """Send a person's last `count` activity frames (of `verb`) again.

        Mercury delivers at least once: the frames go out unchanged (same envelope id and
        sequence number) on the person's open sockets; return how many were sent.
        """
        person = self.state.person_by_email(email)
        if person is None:
            return 0

        def chosen(device: Device) -> list[dict[str, Any]]:
            frames = [
                f
                for f in device.recent
                if verb is None or f["data"].get("activity", {}).get("verb") == verb
            ]
            return frames[-count:]

        with self.lock:
            work = [
                (c, frame)
                for c in self.connections.values()
                if c.authorized and c.person_uuid == person.uuid
                for device in [self.devices.get(c.device_uuid)]
                if device is not None
                for frame in chosen(device)
            ]
        return sum(self.send(connection, frame) for connection, frame in work)

    def sockets_json(self) -> list[dict[str, Any]]:
        """Describe the open sockets for the control API."""
        with self.lock:
            items = []
            for c in self.connections.values():
                owner = self.state.people.get(c.person_uuid or "")
                device = self.devices.get(c.device_uuid)
                items.append(
                    {
                        "id": c.id,
                        "email": owner.email if owner else None,
                        "deviceId": c.device_uuid,
                        "deviceName": device.name if device else None,
                        "region": c.region,
                        "authorized": c.authorized,
                        "connectedSince": iso(c.connected_since),
                        "sent": c.sent,
                        "acks": len(c.acks),
                        "ackIds": list(c.acks[-50:]),
                        "pending": len(device.pending) if device else 0,
                    }
                )
            return items

    # -- events ------------------------------------------------------------------------------

    def on_event(
        self,
        resource: str,
        event: str,
        room: Room,
        actor: Person,
        *,
        subject: Person | None = None,
        message: Message | None = None,
        action: Any = None,
    ) -> None:
        """Turn an emulator event into activities for every member's listening devices.

        A card submit (`action`) reaches every member's devices like any other activity of
        the space: the card's poster (the JS SDK's attachment-actions test listens as the
        poster), the presser's own devices, and the space's other members (the sources are
        silent on them; a client must check the card is its own).
        """
        verb = _verb(resource, event, message)
        if verb is None or (verb == "cardAction" and action is None):
            return
        state = self.state
        if state.settings.mercury_drop_activities:
            return  # the socket stays open and answers pings; nothing reaches it
        # A submit's activity is published when the submit was created (the JS SDK reads the
        # event's `created` from `published`).
        published = iso(action.created if action is not None else state.clock.now())
        body = activity(
            self.base_url,
            verb,
            room,
            actor,
            published=published,
            message=message,
            subject=subject,
            action=action,
        )
        members = {p.uuid for p in state.room_members(room.uuid)}
        if subject is not None:
            members.add(subject.uuid)  # the person who left hears it too
        home = state.settings.wdm_region
        with self.lock:
            targets = [
                d
                for d in self.devices.values()
                if d.owner_uuid in members and d.ever_connected and d.region == home
            ]
            live = {c.device_uuid: c for c in self.connections.values() if c.authorized}
            work: list[tuple[Connection, dict[str, Any]]] = []
            for device in targets:
                connection = live.get(device.uuid)
                if connection is None and state.settings.mercury_drop_while_offline:
                    continue
                device.sequence += 1
                frame = envelope(
                    {"eventType": "conversation.activity", "activity": body}, device.sequence
                )
                if message is not None:
                    frame["_rest_id"] = message.id
                elif action is not None:
                    frame["_rest_id"] = action.id
                device.pending[frame["id"]] = (frame, state.clock.now())
                device.recent.append(frame)
                while len(device.pending) > _MAX_PENDING:
                    device.pending.popitem(last=False)
                if connection is not None:
                    work.append((connection, frame))
        for connection, frame in work:
            token = connection.token or ""
            if (
                resolve_access_token(state, token) is None
                and not state.settings.mercury_deliver_after_expiry
            ):
                self.close(connection, 4401, "token expired")
                continue
            self.send(connection, frame)


def _verb(resource: str, event: str, message: Message | None) -> str | None:
    if resource == "messages":
        if event == "created":
            return "share" if message is not None and message.files else "post"
        return {"updated": "update", "deleted": "delete"}.get(event)
    if resource == "memberships":
        return {"created": "add", "deleted": "leave"}.get(event)
    if resource == "attachmentActions" and event == "created":
        return "cardAction"
    return None
