"""`/v1/memberships`: list (roomId, personId, personEmail), create, get, update, delete."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.messaging import NO_ROOM
from tokenbot.emulator.messaging import add_member
from tokenbot.emulator.model import Membership
from tokenbot.emulator.render import membership_json
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.rest.body import json_body
from tokenbot.emulator.rest.paging import items_body
from tokenbot.emulator.rest.paging import max_param
from tokenbot.emulator.rest.paging import page_by_offset

bp = Blueprint("memberships", __name__, url_prefix="/v1/memberships")
guard(bp)

NOT_FOUND = "Membership not found."


@bp.get("")
def list_memberships() -> Response:
    """List a room's memberships, or the caller's own when no roomId is given."""
    who = caller()
    who.require("spark:memberships_read")
    room_id = request.args.get("roomId")
    person_id = request.args.get("personId")
    email = request.args.get("personEmail")
    size = max_param(100, 1000)
    st = state()
    with st.lock:
        if room_id:
            room = st.room_by_id(room_id)
            if room is None or not st.is_member(who.person.uuid, room.uuid):
                raise WebexError(404, NO_ROOM)
            found = [m for (p, r), m in st.memberships.items() if r == room.uuid]
            if person_id:
                found = [m for m in found if st.people[m.person_uuid].id == person_id]
            if email:
                found = [m for m in found if st.people[m.person_uuid].email == email.lower()]
        elif person_id or email:
            raise WebexError(400, "personId and personEmail need a roomId.")
        else:
            found = [m for (p, r), m in st.memberships.items() if p == who.person.uuid]
        found.sort(key=lambda m: (m.created, m.person_uuid, m.room_uuid))
        chunk, headers = page_by_offset(found, size)
        body = items_body([membership_json(st, m) for m in chunk])
        return json_response(body, headers=headers)


@bp.post("")
def create() -> Response:
    """Add a person to a room the caller is in (409 when already there)."""
    who = caller()
    who.require("spark:memberships_write")
    body = json_body()
    st = state()
    with st.lock:
        room = st.room_by_id(body.get("roomId"))
        if room is None or not st.is_member(who.person.uuid, room.uuid):
            raise WebexError(404, NO_ROOM)
        if room.type == "direct":
            raise WebexError(403, "Cannot add people to a direct room.")
        if body.get("personId"):
            person = st.person_by_id(body["personId"])
        elif body.get("personEmail"):
            person = st.person_by_email(str(body["personEmail"]))
        else:
            raise WebexError(400, "personId or personEmail is required.")
        if person is None:
            raise WebexError(404, "Person not found.")
        membership = add_member(st, room, person, who.person, bool(body.get("isModerator")))
        return json_response(membership_json(st, membership))


def _visible_membership(membership_id: str) -> Membership:
    st = state()
    uid = st.lookup("MEMBERSHIP", membership_id) or ""
    person_uuid, _, room_uuid = uid.partition(":")
    membership = st.memberships.get((person_uuid, room_uuid))
    if membership is None or not st.is_member(caller().person.uuid, room_uuid):
        raise WebexError(404, NOT_FOUND)
    return membership


@bp.get("/<membership_id>")
def get_membership(membership_id: str) -> Response:
    """Return one membership of a room the caller is in."""
    caller().require("spark:memberships_read")
    st = state()
    with st.lock:
        return json_response(membership_json(st, _visible_membership(membership_id)))


@bp.put("/<membership_id>")
def update_membership(membership_id: str) -> Response:
    """Change isModerator."""
    caller().require("spark:memberships_write")
    body = json_body()
    st = state()
    with st.lock:
        membership = _visible_membership(membership_id)
        if "isModerator" in body:
            membership.is_moderator = bool(body["isModerator"])
        return json_response(membership_json(st, membership))


@bp.delete("/<membership_id>")
def delete_membership(membership_id: str) -> Response:
    """Remove a person from a group room."""
    caller().require("spark:memberships_write")
    st = state()
    with st.lock:
        membership = _visible_membership(membership_id)
        if st.rooms[membership.room_uuid].type == "direct":
            raise WebexError(403, "Cannot remove people from a direct room.")
        room = st.rooms[membership.room_uuid]
        st.notify(
            "memberships",
            "deleted",
            room,
            caller().person,
            subject=st.people[membership.person_uuid],
            message=None,
        )
        del st.memberships[(membership.person_uuid, membership.room_uuid)]
    return Response(status=204)
