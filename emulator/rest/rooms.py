"""`/v1/rooms`: list (type, sortBy, max), create, get, update, delete."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.messaging import NO_ROOM
from tokenbot.emulator.messaging import create_room
from tokenbot.emulator.messaging import delete_room as delete_for_everyone
from tokenbot.emulator.messaging import remove_member
from tokenbot.emulator.messaging import room_updated
from tokenbot.emulator.model import Room
from tokenbot.emulator.render import room_json
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.rest.body import bool_field
from tokenbot.emulator.rest.body import bool_query
from tokenbot.emulator.rest.body import json_body
from tokenbot.emulator.rest.paging import items_body
from tokenbot.emulator.rest.paging import max_param
from tokenbot.emulator.rest.paging import page_by_offset

bp = Blueprint("rooms", __name__, url_prefix="/v1/rooms")
guard(bp)

SORTS = {
    "lastactivity": lambda r: (-r.last_activity.timestamp(), r.uuid),
    "created": lambda r: (-r.created.timestamp(), r.uuid),
    "id": lambda r: r.id,
}


@bp.get("")
def list_rooms() -> Response:
    """List the caller's rooms."""
    who = caller()
    who.require("spark:rooms_read")
    kind = request.args.get("type")
    if kind not in (None, "", "direct", "group"):
        raise WebexError(400, f"Invalid value for type: {kind}")
    sort = (request.args.get("sortBy") or "created").lower()
    if sort not in SORTS:
        raise WebexError(400, f"Invalid value for sortBy: {sort}")
    size = max_param(100, 1000)
    bool_query("orgPublicSpaces")
    team_id = request.args.get("teamId")
    st = state()
    with st.lock:
        rooms = [r for r in st.rooms_of(who.person.uuid) if not kind or r.type == kind]
        if team_id:
            team = st.team_by_id(team_id)
            if team is None or (who.person.uuid, team.uuid) not in st.team_memberships:
                raise WebexError(404, "Could not find a team with provided ID.")
            rooms = [r for r in st.rooms.values() if r.team_uuid == team.uuid]
        rooms.sort(key=SORTS[sort])
        chunk, headers = page_by_offset(rooms, size)
        body = items_body([room_json(st, r, who.person) for r in chunk])
        return json_response(body, headers=headers)


@bp.post("")
def create() -> Response:
    """Create a group room; the creator becomes a member (and its moderator when locked)."""
    who = caller()
    who.require("spark:rooms_write")
    body = json_body()
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise WebexError(400, "title is required.")
    locked = bool_field(body, "isLocked") or False
    for name in ("isPublic", "isAnnouncementOnly"):
        bool_field(body, name)
    st = state()
    with st.lock:
        team_uuid = None
        if body.get("teamId"):
            team = st.team_by_id(body["teamId"])
            if team is None or (who.person.uuid, team.uuid) not in st.team_memberships:
                raise WebexError(404, "Could not find a team with provided ID.")
            team_uuid = team.uuid
        room = create_room(st, who.person, title.strip(), locked=locked, team_uuid=team_uuid)
        if isinstance(body.get("description"), str):
            room.description = body["description"]
        return json_response(room_json(st, room, who.person))


def _visible_room(room_id: str) -> Room:
    st = state()
    room = st.room_by_id(room_id)
    if room is None or not st.is_member(caller().person.uuid, room.uuid):
        raise WebexError(404, NO_ROOM)
    return room


@bp.get("/<room_id>")
def get_room(room_id: str) -> Response:
    """Return one room the caller is in."""
    who = caller()
    who.require("spark:rooms_read")
    st = state()
    with st.lock:
        return json_response(room_json(st, _visible_room(room_id), who.person))


@bp.put("/<room_id>")
def update_room(room_id: str) -> Response:
    """Rename a group room, lock or unlock it; a locked room only changes for a moderator."""
    who = caller()
    who.require("spark:rooms_write")
    body = json_body()
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise WebexError(400, "title is required.")
    locked = bool_field(body, "isLocked")
    for name in ("isPublic", "isAnnouncementOnly", "isReadOnly"):
        bool_field(body, name)
    st = state()
    with st.lock:
        room = _visible_room(room_id)
        if room.type == "direct":
            raise WebexError(400, "A direct room cannot be renamed.")
        if room.is_locked and not st.is_moderator(who.person.uuid, room.uuid):
            raise WebexError(403, "Only a moderator can change a locked room.")
        room.title = title.strip()
        if isinstance(body.get("description"), str):
            room.description = body["description"].strip() or None
        if locked is True and not room.is_locked:
            # Locking makes whoever locks it the moderator, as creating a locked room does.
            room.is_locked = True
            st.memberships[(who.person.uuid, room.uuid)].is_moderator = True
        elif locked is False and room.is_locked:
            room.is_locked = False
            for (_, room_uuid), membership in st.memberships.items():
                if room_uuid == room.uuid:
                    membership.is_moderator = False
        room_updated(st, room, who.person)
        return json_response(room_json(st, room, who.person))


@bp.delete("/<room_id>")
def delete_room(room_id: str) -> Response:
    """Delete a room for everyone (a moderator; the creator of an unlocked room), else leave it.

    Webex: "when a non moderator deletes the room they are removed from the room instead".
    """
    who = caller()
    who.require("spark:rooms_write")
    st = state()
    with st.lock:
        room = _visible_room(room_id)
        if room.is_locked:
            may_delete = st.is_moderator(who.person.uuid, room.uuid)
        else:
            may_delete = room.creator_uuid == who.person.uuid
        if may_delete and room.type == "group":
            delete_for_everyone(st, room, who.person)
        else:
            remove_member(st, st.memberships[(who.person.uuid, room.uuid)], who.person)
    return Response(status=204)
