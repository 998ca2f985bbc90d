"""The emulator's whole world: sandbox data, tokens, settings, faults and logs."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from tokenbot.emulator.calls import CallLog
from tokenbot.emulator.clock import EmulatorClock
from tokenbot.emulator.faults import FaultBook
from tokenbot.emulator.ids import make_id
from tokenbot.emulator.ids import parse_id
from tokenbot.emulator.ids import parse_id_cluster
from tokenbot.emulator.ids import stable_uuid
from tokenbot.emulator.model import AccessToken
from tokenbot.emulator.model import AuthCode
from tokenbot.emulator.model import Consent
from tokenbot.emulator.model import Grant
from tokenbot.emulator.model import Integration
from tokenbot.emulator.model import Membership
from tokenbot.emulator.model import Message
from tokenbot.emulator.model import Person
from tokenbot.emulator.model import RefreshToken
from tokenbot.emulator.model import Room
from tokenbot.emulator.model import Team
from tokenbot.emulator.model import TeamMembership
from tokenbot.emulator.model import Webhook
from tokenbot.emulator.ratelimit import RateLimiter
from tokenbot.emulator.seed import load_seed
from tokenbot.emulator.settings import Settings

if TYPE_CHECKING:
    from tokenbot.emulator.contents import Content
    from tokenbot.emulator.delivery import DeliveryWorker
    from tokenbot.emulator.rest.attachment_actions import AttachmentAction


class EmulatorState:
    """Hold everything the emulator knows; one re-entrant lock guards the data.

    Args:
        seed: a seed file path, a seed dict, or None for the built-in sandbox.
    """

    def __init__(self, seed: str | Path | dict[str, Any] | None = None) -> None:
        self.seed = load_seed(seed)
        self.lock = threading.RLock()
        self.clock = EmulatorClock()
        self.calls = CallLog()
        self.faults = FaultBook()
        self.rate_limiter = RateLimiter()
        self.delivery: DeliveryWorker | None = None
        # In-process listeners of every event (the Mercury hub) and what a reset re-seeds.
        self.event_listeners: list[Callable[..., None]] = []
        self.reset_hooks: list[Callable[[], None]] = []
        self.mercury: Any = None  # the MercuryHub, once an app serves this state
        # Set when the server stops, so injected delays end early.
        self.halt = threading.Event()
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------

    def reset(self) -> None:
        """Return to the seed: data, tokens, settings, clock, faults and logs."""
        with self.lock:
            self.clock.reset()
            self.calls.clear()
            self.faults.clear()
            self.rate_limiter.clear()
            if self.delivery is not None:
                self.delivery.clear()
            self.settings = Settings()
            self.settings.update(self.seed.get("settings") or {})
            now = self.clock.now()
            org = self.seed["org"]
            self.org_uuid: str = org.get("uuid") or stable_uuid("org", org["name"])
            self.org_name: str = org["name"]
            self.people: dict[str, Person] = {}
            self.rooms: dict[str, Room] = {}
            self.memberships: dict[tuple[str, str], Membership] = {}
            self.messages: dict[str, Message] = {}
            self.room_messages: dict[str, list[Message]] = {}
            self.webhooks: dict[str, Webhook] = {}
            self.teams: dict[str, Team] = {}
            self.team_memberships: dict[tuple[str, str], TeamMembership] = {}
            self.integrations: dict[str, Integration] = {}
            self.grants: dict[str, Grant] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.codes: dict[str, AuthCode] = {}
            self.consents: dict[str, Consent] = {}
            self.deliveries: list[dict[str, Any]] = []
            # Files and card submits (emulator/contents.py, rest/attachment_actions.py).
            self.contents: dict[str, Content] = {}
            self.attachment_actions: dict[str, AttachmentAction] = {}
            self._seq = itertools.count(1)
            for spec in self.seed["people"]:
                self._seed_person(spec, now)
            for spec in self.seed["spaces"]:
                self._seed_space(spec, now)
            self.apply_clusters()
            for spec in self.seed["integrations"]:
                self.add_integration(
                    Integration(
                        client_id=spec["client_id"],
                        client_secret=spec["client_secret"],
                        redirect_uris=list(spec["redirect_uris"]),
                        scopes=list(spec["scopes"]),
                        name=spec.get("name", "Sandbox integration"),
                    )
                )
            for hook in self.reset_hooks:
                hook()

    def _seed_person(self, spec: dict[str, Any], now: datetime) -> None:
        email = spec["email"].lower()
        name = spec["displayName"]
        first, _, last = name.partition(" ")
        person = Person(
            uuid=spec.get("uuid") or stable_uuid("person", email),
            email=email,
            display_name=name,
            first_name=spec.get("firstName", first),
            last_name=spec.get("lastName", last),
            type=spec.get("type", "person"),
            created=now,
        )
        self.people[person.uuid] = person

    def _seed_space(self, spec: dict[str, Any], now: datetime) -> None:
        members = [self.person_by_email(e) for e in spec["members"]]
        people = [m for m in members if m is not None]
        kind = spec.get("type", "group")
        key = spec.get("title") or "+".join(sorted(p.email for p in people))
        creator = people[0] if people else None
        room = Room(
            uuid=spec.get("uuid") or stable_uuid("room", kind, key),
            title=spec.get("title") or "",
            type=kind,
            creator_uuid=creator.uuid if creator else "",
            created=now,
            last_activity=now,
        )
        self.rooms[room.uuid] = room
        self.room_messages[room.uuid] = []
        for person in people:
            self.memberships[(person.uuid, room.uuid)] = Membership(
                person_uuid=person.uuid, room_uuid=room.uuid, is_moderator=False, created=now
            )

    # -- lookups ---------------------------------------------------------------------------

    @property
    def org_id(self) -> str:
        """Return the Webex id of the sandbox org."""
        return make_id("ORGANIZATION", self.org_uuid)

    def next_seq(self) -> int:
        """Return the next message sequence number."""
        return next(self._seq)

    def person_by_email(self, email: str) -> Person | None:
        """Return the person with this email (case-insensitive)."""
        email = email.strip().lower()
        for person in self.people.values():
            if person.email == email:
                return person
        return None

    def lookup(self, kind: str, webex_id: str | None) -> str | None:
        """Return the UUID inside a Webex id of `kind`, or None."""
        if not webex_id:
            return None
        parsed = parse_id(webex_id)
        if parsed is None or parsed[0] != kind:
            return None
        return parsed[1]

    def person_by_id(self, webex_id: str | None) -> Person | None:
        """Return the person with this Webex id."""
        uid = self.lookup("PEOPLE", webex_id)
        return self.people.get(uid) if uid else None

    def room_by_id(self, webex_id: str | None) -> Room | None:
        """Return the room with this Webex id."""
        uid = self.lookup("ROOM", webex_id)
        return self.rooms.get(uid) if uid else None

    def message_by_id(self, webex_id: str | None) -> Message | None:
        """Return the message with this Webex id; an id naming another cluster finds none."""
        parsed = parse_id_cluster(webex_id) if webex_id else None
        if parsed is None or parsed[1] != "MESSAGE":
            return None
        message = self.messages.get(parsed[2])
        if message is None or message.cluster != parsed[0]:
            return None
        return message

    def cluster_of(self, person_uuid: str) -> str:
        """Return where a person's new conversations are homed (setting `non_us_people`)."""
        person = self.people.get(person_uuid)
        if person is not None and person.email in self.settings.non_us_people:
            return self.settings.non_us_cluster
        return "us"

    def apply_clusters(self) -> None:
        """Re-home every room (and its messages) in its creator's cluster, after a setting."""
        with self.lock:
            for room in self.rooms.values():
                room.cluster = self.cluster_of(room.creator_uuid)
                for message in self.room_messages.get(room.uuid, []):
                    message.cluster = room.cluster

    def notify(self, resource: str, event: str, room: Room, actor: Person, **extra: Any) -> None:
        """Tell the in-process listeners (the Mercury hub) about an event in `room`."""
        for listener in list(self.event_listeners):
            listener(resource, event, room, actor, **extra)

    def team_by_id(self, webex_id: str | None) -> Team | None:
        """Return the team with this Webex id."""
        uid = self.lookup("TEAM", webex_id)
        return self.teams.get(uid) if uid else None

    def is_moderator(self, person_uuid: str, room_uuid: str) -> bool:
        """Return True when the person moderates the room."""
        membership = self.memberships.get((person_uuid, room_uuid))
        return membership is not None and membership.is_moderator

    def webhook_by_id(self, webex_id: str | None) -> Webhook | None:
        """Return the webhook with this Webex id."""
        uid = self.lookup("WEBHOOK", webex_id)
        return self.webhooks.get(uid) if uid else None

    def is_member(self, person_uuid: str, room_uuid: str) -> bool:
        """Return True when the person is in the room."""
        return (person_uuid, room_uuid) in self.memberships

    def room_members(self, room_uuid: str) -> list[Person]:
        """Return the people in a room."""
        return [self.people[p] for (p, r) in self.memberships if r == room_uuid]

    def rooms_of(self, person_uuid: str) -> list[Room]:
        """Return the rooms a person is in."""
        return [self.rooms[r] for (p, r) in self.memberships if p == person_uuid]

    def direct_room(self, a_uuid: str, b_uuid: str) -> Room | None:
        """Return the 1:1 room between two people, if it exists."""
        for room in self.rooms_of(a_uuid):
            if room.type == "direct" and self.is_member(b_uuid, room.uuid) and a_uuid != b_uuid:
                return room
        return None

    def room_by_title(self, title: str) -> Room | None:
        """Return the first group room with this title."""
        for room in self.rooms.values():
            if room.title == title:
                return room
        return None

    def add_integration(self, integration: Integration) -> None:
        """Register (or replace) an integration."""
        with self.lock:
            self.integrations[integration.client_id] = integration

    def record_delivery(self, entry: dict[str, Any]) -> None:
        """Remember one webhook delivery attempt (for the control API)."""
        with self.lock:
            self.deliveries.append(entry)
