"""`/v1/rooms`: list (type, sortBy, max), create, get, update, delete."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.messaging import NO_ROOM
from tokenbot.emulator.messaging import create_room
from tokenbot.emulator.model import Room
from tokenbot.emulator.render import room_json
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
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
    st = state()
    with st.lock:
        rooms = [r for r in st.rooms_of(who.person.uuid) if not kind or r.type == kind]
        rooms.sort(key=SORTS[sort])
        chunk, headers = page_by_offset(rooms, size)
        body = items_body([room_json(st, r, who.person) for r in chunk])
        return json_response(body, headers=headers)


@bp.post("")
def create() -> Response:
    """Create a group room; the creator becomes a member."""
    who = caller()
    who.require("spark:rooms_write")
    body = json_body()
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise WebexError(400, "title is required.")
    st = state()
    with st.lock:
        room = create_room(st, who.person, title.strip())
        if isinstance(body.get("description"), str):
            room.description = body["description"]
        if body.get("isLocked") is True:
            room.is_locked = True
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
    """Rename a group room."""
    who = caller()
    who.require("spark:rooms_write")
    body = json_body()
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise WebexError(400, "title is required.")
    st = state()
    with st.lock:
        room = _visible_room(room_id)
        if room.type == "direct":
            raise WebexError(400, "A direct room cannot be renamed.")
        room.title = title.strip()
        return json_response(room_json(st, room, who.person))


@bp.delete("/<room_id>")
def delete_room(room_id: str) -> Response:
    """Delete a room (its creator), or leave it (anyone else)."""
    who = caller()
    who.require("spark:rooms_write")
    st = state()
    with st.lock:
        room = _visible_room(room_id)
        if room.creator_uuid == who.person.uuid and room.type == "group":
            for key in [k for k in st.memberships if k[1] == room.uuid]:
                del st.memberships[key]
            for message in st.room_messages.pop(room.uuid, []):
                st.messages.pop(message.uuid, None)
            del st.rooms[room.uuid]
        else:
            del st.memberships[(who.person.uuid, room.uuid)]
    return Response(status=204)
