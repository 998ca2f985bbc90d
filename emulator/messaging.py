"""Rooms, memberships and messages: the operations the REST routes and the control API share."""

from __future__ import annotations

from typing import Any

from tokenbot.emulator.contents import bind_files
from tokenbot.emulator.contents import validate_attachments
from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.events import dispatch
from tokenbot.emulator.events import message_data
from tokenbot.emulator.ids import new_uuid
from tokenbot.emulator.markup import find_mentions
from tokenbot.emulator.markup import render_markdown
from tokenbot.emulator.model import Membership
from tokenbot.emulator.model import Message
from tokenbot.emulator.model import Person
from tokenbot.emulator.model import Room
from tokenbot.emulator.render import membership_json
from tokenbot.emulator.render import room_json
from tokenbot.emulator.state import EmulatorState

MAX_BYTES = 7439
NO_ROOM = "Could not find a room with provided ID."
ONE_DESTINATION = (
    "Exactly one of the destination fields must not be empty (roomId, toPersonEmail, toPersonId)"
)


def create_room(
    state: EmulatorState,
    creator: Person,
    title: str,
    kind: str = "group",
    locked: bool = False,
    team_uuid: str | None = None,
) -> Room:
    """Create a room with the creator as its first member (its moderator when locked)."""
    with state.lock:
        now = state.clock.now()
        room = Room(
            uuid=new_uuid(),
            title=title,
            type=kind,
            creator_uuid=creator.uuid,
            created=now,
            last_activity=now,
            is_locked=locked,
            team_uuid=team_uuid,
            cluster=state.cluster_of(creator.uuid),
        )
        state.rooms[room.uuid] = room
        state.room_messages[room.uuid] = []
        add_member(state, room, creator, creator, moderator=locked)
        dispatch(state, "rooms", "created", room, creator, room_json(state, room, creator))
        return room


def room_updated(state: EmulatorState, room: Room, actor: Person) -> None:
    """Queue `rooms/updated` for a changed room."""
    with state.lock:
        dispatch(state, "rooms", "updated", room, actor, room_json(state, room, actor))


def membership_updated(state: EmulatorState, membership: Membership, actor: Person) -> None:
    """Queue `memberships/updated` for a changed membership."""
    with state.lock:
        room = state.rooms[membership.room_uuid]
        person = state.people[membership.person_uuid]
        data = membership_json(state, membership)
        dispatch(state, "memberships", "updated", room, actor, data, subject=person)


def remove_member(state: EmulatorState, membership: Membership, actor: Person) -> None:
    """Remove a membership; `memberships/deleted` is queued first, so the leaver hears it too."""
    with state.lock:
        room = state.rooms[membership.room_uuid]
        person = state.people[membership.person_uuid]
        data = membership_json(state, membership)
        dispatch(state, "memberships", "deleted", room, actor, data, subject=person)
        # The Mercury hub's `leave` activity, while the leaver is still a member and hears it.
        state.notify("memberships", "deleted", room, actor, subject=person, message=None)
        del state.memberships[(membership.person_uuid, membership.room_uuid)]


def delete_room(state: EmulatorState, room: Room, actor: Person) -> None:
    """Delete a room for everyone: each member's `memberships/deleted`, then the room."""
    with state.lock:
        for key in [k for k in state.memberships if k[1] == room.uuid]:
            remove_member(state, state.memberships[key], actor)
        for message in state.room_messages.pop(room.uuid, []):
            state.messages.pop(message.uuid, None)
        del state.rooms[room.uuid]


def add_member(
    state: EmulatorState, room: Room, person: Person, actor: Person, moderator: bool = False
) -> Membership:
    """Add a person to a room (409 when already in it)."""
    with state.lock:
        if state.is_member(person.uuid, room.uuid):
            raise WebexError(409, "Person is already in the room.")
        membership = Membership(person.uuid, room.uuid, moderator, state.clock.now())
        state.memberships[(person.uuid, room.uuid)] = membership
        data = membership_json(state, membership)
        dispatch(state, "memberships", "created", room, actor, data, subject=person)
        return membership


def resolve_mention(state: EmulatorState) -> Any:
    """Return a resolver for `<@personEmail:..>` / `<@personId:..>` markup."""

    def resolve(kind: str, value: str) -> Person | None:
        if kind == "personEmail":
            return state.person_by_email(value)
        return state.person_by_id(value)

    return resolve


def destination_room(state: EmulatorState, author: Person, body: dict[str, Any]) -> Room:
    """Return the room a message goes to, creating a 1:1 room on demand."""
    given = [k for k in ("roomId", "toPersonId", "toPersonEmail") if body.get(k)]
    if len(given) != 1:
        raise WebexError(400, ONE_DESTINATION)
    if given[0] == "roomId":
        room = state.room_by_id(body["roomId"])
        if room is None or not state.is_member(author.uuid, room.uuid):
            raise WebexError(404, NO_ROOM)
        return room
    if given[0] == "toPersonId":
        target = state.person_by_id(body["toPersonId"])
    else:
        target = state.person_by_email(str(body["toPersonEmail"]))
    if target is None:
        raise WebexError(404, "Could not find a person with the provided id or email.")
    if target.uuid == author.uuid:
        raise WebexError(400, "Cannot send a direct message to yourself.")
    room = state.direct_room(author.uuid, target.uuid)
    if room is None:
        now = state.clock.now()
        room = Room(
            new_uuid(), "", "direct", author.uuid, now, now, cluster=state.cluster_of(author.uuid)
        )
        state.rooms[room.uuid] = room
        state.room_messages[room.uuid] = []
        for person in (author, target):
            state.memberships[(person.uuid, room.uuid)] = Membership(
                person.uuid, room.uuid, False, now
            )
    return room


def post_message(state: EmulatorState, author: Person, body: dict[str, Any]) -> Message:
    """Validate and store a message, then queue its webhooks."""
    text = body.get("text")
    markdown = body.get("markdown")
    files = body.get("files") or []
    attachments = body.get("attachments") or []
    for name, value in (("text", text), ("markdown", markdown)):
        if value is not None and not isinstance(value, str):
            raise WebexError(400, f"{name} must be a string.")
        if isinstance(value, str) and len(value.encode("utf-8")) > MAX_BYTES:
            raise WebexError(400, f"The {name} is too long: the limit is {MAX_BYTES} bytes.")
    if not isinstance(files, list) or len(files) > 1:
        raise WebexError(400, "Only one file is allowed per message.")
    attachments = validate_attachments(state, attachments)
    if not text and not markdown and not files and not attachments:
        raise WebexError(400, "Both text and file cannot be empty.")
    with state.lock:
        room = destination_room(state, author, body)
        parent_uuid = None
        if body.get("parentId"):
            parent = state.message_by_id(body["parentId"])
            if parent is None or parent.room_uuid != room.uuid:
                raise WebexError(404, "Could not find the parent message.")
            if parent.parent_uuid is not None:
                raise WebexError(400, "Cannot reply to a reply: threads are one level deep.")
            parent_uuid = parent.uuid
        resolve = resolve_mention(state)
        html = None
        mentioned: list[Person] = []
        groups: list[str] = []
        if markdown:
            rendered = render_markdown(markdown, resolve)
            html, mentioned, groups = rendered.html, rendered.mentioned, rendered.mentioned_groups
            if not text:
                text = rendered.text
        elif text and state.settings.mentions_in_text:
            mentioned, groups = find_mentions(text, resolve)
        bind_files(state, author.uuid, room.uuid, [str(f) for f in files])
        now = state.clock.now()
        to_person = None
        if body.get("toPersonId") or body.get("toPersonEmail"):
            to_person = next(p for p in state.room_members(room.uuid) if p.uuid != author.uuid)
        message = Message(
            uuid=new_uuid(),
            seq=state.next_seq(),
            room_uuid=room.uuid,
            person_uuid=author.uuid,
            created=now,
            text=text,
            markdown=markdown or None,
            html=html,
            parent_uuid=parent_uuid,
            to_person_uuid=to_person.uuid if to_person else None,
            mentioned=[p.uuid for p in mentioned],
            mentioned_groups=groups,
            files=[str(f) for f in files],
            attachments=attachments,
            cluster=room.cluster,
        )
        state.messages[message.uuid] = message
        state.room_messages[room.uuid].append(message)
        room.last_activity = now
        data = message_data(message, room, author, deleted=False)
        dispatch(state, "messages", "created", room, author, data, author, message)
        return message


def delete_message(state: EmulatorState, actor: Person, message: Message) -> None:
    """Delete a message (its author or a room moderator), then queue its webhooks."""
    with state.lock:
        room = state.rooms[message.room_uuid]
        membership = state.memberships.get((actor.uuid, room.uuid))
        if message.person_uuid != actor.uuid and not (membership and membership.is_moderator):
            raise WebexError(403, "You can only delete your own messages.")
        del state.messages[message.uuid]
        state.room_messages[room.uuid].remove(message)
        author = state.people[message.person_uuid]
        data = message_data(message, room, author, deleted=True)
        dispatch(state, "messages", "deleted", room, actor, data, author, message)
