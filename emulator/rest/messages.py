"""`/v1/messages`: list (newest first, cursor paging), direct, create, get, edit, delete."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.events import dispatch
from tokenbot.emulator.events import message_data
from tokenbot.emulator.ids import parse_iso
from tokenbot.emulator.markup import render_markdown
from tokenbot.emulator.messaging import MAX_BYTES
from tokenbot.emulator.messaging import NO_ROOM
from tokenbot.emulator.messaging import delete_message
from tokenbot.emulator.messaging import post_message
from tokenbot.emulator.messaging import resolve_mention
from tokenbot.emulator.model import Message
from tokenbot.emulator.model import Room
from tokenbot.emulator.render import message_json
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.rest.body import json_body
from tokenbot.emulator.rest.contents import take_upload
from tokenbot.emulator.rest.paging import decode_cursor
from tokenbot.emulator.rest.paging import items_body
from tokenbot.emulator.rest.paging import max_param
from tokenbot.emulator.rest.paging import next_link

bp = Blueprint("messages", __name__, url_prefix="/v1/messages")
guard(bp)

READ = "spark:messages_read"
WRITE = "spark:messages_write"
NO_MESSAGE = "Could not find a message with provided ID."


def _page(candidates: list[Message], size: int) -> tuple[list[Message], dict[str, str]]:
    """Page newest-first messages by sequence number (stable while messages arrive)."""
    cursor = decode_cursor()
    if cursor is not None:
        candidates = [m for m in candidates if m.seq < cursor]
    chunk = candidates[:size]
    headers = {"Link": next_link(chunk[-1].seq)} if len(candidates) > size else {}
    return chunk, headers


@bp.get("")
def list_messages() -> Response:
    """List a room's messages, newest first."""
    who = caller()
    who.require(READ)
    st = state()
    args = request.args
    room_id = args.get("roomId")
    if not room_id:
        raise WebexError(400, "roomId is required.")
    mentioned = args.get("mentionedPeople")
    size = max_param(50, 100 if mentioned else st.settings.messages_max_limit)
    before = None
    if args.get("before"):
        before = parse_iso(args["before"])
        if before is None:
            raise WebexError(400, f"Invalid value for before: {args['before']}")
    with st.lock:
        room = st.room_by_id(room_id)
        if room is None or not st.is_member(who.person.uuid, room.uuid):
            raise WebexError(404, NO_ROOM)
        if who.person.type == "bot" and room.type == "group" and not mentioned:
            raise WebexError(403, "Bots must use mentionedPeople=me to list group messages.")
        candidates = list(reversed(st.room_messages[room.uuid]))
        if mentioned:
            for value in mentioned.split(","):
                if value not in ("me", who.person.id):
                    raise WebexError(400, "mentionedPeople only accepts me or your own id.")
            candidates = [m for m in candidates if who.person.uuid in m.mentioned]
        if args.get("parentId"):
            parent = st.message_by_id(args["parentId"])
            if parent is None or parent.room_uuid != room.uuid:
                raise WebexError(404, NO_MESSAGE)
            candidates = [m for m in candidates if m.parent_uuid == parent.uuid]
        if before is not None:
            candidates = [m for m in candidates if m.created < before]
        if args.get("beforeMessage"):
            anchor = st.message_by_id(args["beforeMessage"])
            if anchor is None or anchor.room_uuid != room.uuid:
                raise WebexError(404, NO_MESSAGE)
            candidates = [m for m in candidates if m.seq < anchor.seq]
        chunk, headers = _page(candidates, size)
        return json_response(items_body([message_json(st, m) for m in chunk]), headers=headers)


@bp.get("/direct")
def list_direct() -> Response:
    """List the messages of the caller's 1:1 room with a person, newest first."""
    who = caller()
    who.require(READ)
    st = state()
    args = request.args
    with st.lock:
        if args.get("personId"):
            other = st.person_by_id(args["personId"])
        elif args.get("personEmail"):
            other = st.person_by_email(args["personEmail"])
        else:
            raise WebexError(400, "personId or personEmail is required.")
        if other is None:
            raise WebexError(404, "Person not found.")
        room = st.direct_room(who.person.uuid, other.uuid)
        found = list(reversed(st.room_messages[room.uuid])) if room else []
        if args.get("parentId"):
            parent = st.message_by_id(args["parentId"])
            found = [m for m in found if parent and m.parent_uuid == parent.uuid]
        return json_response(items_body([message_json(st, m) for m in found]))


@bp.post("")
def create() -> Response:
    """Post a message as the caller."""
    who = caller()
    who.require(WRITE)
    body = json_body()
    take_upload(body, who.person.uuid)
    st = state()
    with st.lock:
        message = post_message(st, who.person, body)
        return json_response(message_json(st, message, created=True))


def _visible(message_id: str) -> tuple[Message, Room]:
    st = state()
    message = st.message_by_id(message_id)
    if message is None or not st.is_member(caller().person.uuid, message.room_uuid):
        raise WebexError(404, NO_MESSAGE)
    return message, st.rooms[message.room_uuid]


@bp.get("/<message_id>")
def get_message(message_id: str) -> Response:
    """Return one message of a room the caller is in."""
    caller().require(READ)
    st = state()
    with st.lock:
        return json_response(message_json(st, _visible(message_id)[0]))


@bp.put("/<message_id>")
def edit_message(message_id: str) -> Response:
    """Edit the caller's own message (10 edits at most, none with files or cards)."""
    who = caller()
    who.require(WRITE)
    body = json_body()
    st = state()
    with st.lock:
        message, room = _visible(message_id)
        if body.get("roomId") != room.id:
            raise WebexError(400, "roomId is required and must be the message's room.")
        if message.person_uuid != who.person.uuid:
            raise WebexError(403, "You can only edit your own messages.")
        if message.files or message.attachments:
            raise WebexError(400, "Messages with files or attachments cannot be edited.")
        if message.edits >= 10:
            raise WebexError(400, "A message can be edited at most 10 times.")
        text, markdown = body.get("text"), body.get("markdown")
        if not text and not markdown:
            raise WebexError(400, "text or markdown is required.")
        for value in (text, markdown):
            if isinstance(value, str) and len(value.encode("utf-8")) > MAX_BYTES:
                raise WebexError(400, f"The message is too long: the limit is {MAX_BYTES} bytes.")
        if markdown:
            rendered = render_markdown(str(markdown), resolve_mention(st))
            message.markdown, message.html = str(markdown), rendered.html
            message.text = str(text) if text else rendered.text
            message.mentioned = [p.uuid for p in rendered.mentioned]
        else:
            message.text, message.markdown, message.html = str(text), None, None
        message.edits += 1
        message.updated = st.clock.now()
        author = st.people[message.person_uuid]
        data = message_data(message, room, author, deleted=False)
        dispatch(st, "messages", "updated", room, who.person, data, author, message)
        return json_response(message_json(st, message))


@bp.delete("/<message_id>")
def delete(message_id: str) -> Response:
    """Delete a message."""
    who = caller()
    who.require(WRITE)
    st = state()
    with st.lock:
        message, _ = _visible(message_id)
        delete_message(st, who.person, message)
    return Response(status=204)
