"""`/v1/attachment/actions`: a person submits a card; the webhook carries no inputs, GET does.

Webex offers no list of attachment actions (only `POST` and `GET /{id}`), so a client that
polls can never see card submits: they reach it as an `attachmentActions`/`created` webhook
whose `data` is `{id, type, messageId, personId, roomId, created}`, then `GET` gives `inputs`.
The control route `POST /_emulator/attachment-actions` lets tests and the chat page press a
button as a sandbox person.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.contents import content_from_url
from tokenbot.emulator.contents import set_scan
from tokenbot.emulator.control_guard import guard_control
from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.events import dispatch
from tokenbot.emulator.ids import iso
from tokenbot.emulator.ids import make_id
from tokenbot.emulator.ids import new_uuid
from tokenbot.emulator.model import Person
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.rest.body import json_body
from tokenbot.emulator.rest.contents import file_headers
from tokenbot.emulator.state import EmulatorState

bp = Blueprint("attachment_actions", __name__, url_prefix="/v1/attachment/actions")
guard(bp)
control_bp = Blueprint("control_cards", __name__, url_prefix="/_emulator")
guard_control(control_bp)

WRITE = "spark:messages_write"
READ = "spark:messages_read"
NO_ACTION = "The requested resource could not be found."
# Inputs are stored as the client sent them; this caps one submit (Webex's cap is unknown).
MAX_INPUTS_BYTES = 16384


@dataclass
class AttachmentAction:
    """One card submit by a person."""

    uuid: str
    message_uuid: str
    room_uuid: str
    person_uuid: str
    inputs: dict[str, Any]
    created: datetime
    # The room's cluster: the JS SDK builds the action, message and room ids of a `cardAction`
    # with the conversation's cluster (people ids are always `us`).
    cluster: str = "us"

    @property
    def id(self) -> str:
        """Return the Webex attachment action id (its room's cluster inside)."""
        return make_id("ATTACHMENT_ACTION", self.uuid, self.cluster)


def action_data(action: AttachmentAction) -> dict[str, Any]:
    """Return the webhook `data` of a submit: never the inputs."""
    return {
        "id": action.id,
        "type": "submit",
        "messageId": make_id("MESSAGE", action.message_uuid, action.cluster),
        "personId": make_id("PEOPLE", action.person_uuid),
        "roomId": make_id("ROOM", action.room_uuid, action.cluster),
        "created": iso(action.created),
    }


def submit(
    st: EmulatorState, person: Person, message_id: Any, inputs: Any, kind: Any = "submit"
) -> AttachmentAction:
    """Record `person` pressing a button on a card message, then fire the webhooks."""
    if kind != "submit":
        raise WebexError(400, 'type must be "submit".')
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise WebexError(400, "inputs must be an object.")
    if len(json.dumps(inputs).encode("utf-8")) > MAX_INPUTS_BYTES:
        raise WebexError(400, f"inputs are too large: the limit is {MAX_INPUTS_BYTES} bytes.")
    with st.lock:
        message = st.message_by_id(str(message_id or ""))
        if message is None or not st.is_member(person.uuid, message.room_uuid):
            raise WebexError(404, "Could not find a message with provided ID.")
        if not message.attachments:
            raise WebexError(400, "The message has no card to submit.")
        action = AttachmentAction(
            uuid=new_uuid(),
            message_uuid=message.uuid,
            room_uuid=message.room_uuid,
            person_uuid=person.uuid,
            inputs=dict(inputs),
            created=st.clock.now(),
            cluster=message.cluster,
        )
        st.attachment_actions[action.uuid] = action
        room = st.rooms[message.room_uuid]
        # Webhooks get the envelope; the Mercury hub a `cardAction` activity.
        dispatch(
            st,
            "attachmentActions",
            "created",
            room,
            person,
            action_data(action),
            person,
            action=action,
        )
        return action


def action_json(action: AttachmentAction) -> dict[str, Any]:
    """Return an AttachmentActivity (with the inputs)."""
    body = action_data(action)
    body["inputs"] = dict(action.inputs)
    return body


@bp.post("")
def create() -> Response:
    """Submit a card as the caller."""
    who = caller()
    who.require(WRITE)
    body = json_body()
    kind = body.get("type")
    action = submit(state(), who.person, body.get("messageId"), body.get("inputs"), kind)
    return json_response(action_json(action))


@bp.get("/<action_id>")
def get_action(action_id: str) -> Response:
    """Return one submit (with its inputs) to a member of its room."""
    who = caller()
    who.require(READ)
    st = state()
    with st.lock:
        uid = st.lookup("ATTACHMENT_ACTION", action_id)
        action = st.attachment_actions.get(uid) if uid else None
        if action is None or not st.is_member(who.person.uuid, action.room_uuid):
            raise WebexError(404, NO_ACTION)
        return json_response(action_json(action))


@control_bp.post("/attachment-actions")
def press() -> Response:
    """Press a card button as a sandbox person: `{messageId, personEmail, inputs}`."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return json_response({"error": "the body must be a JSON object"}, 400)
    st = state()
    person = st.person_by_email(str(data.get("personEmail", "")))
    if person is None:
        return json_response({"error": "personEmail must name a sandbox person"}, 400)
    try:
        action = submit(st, person, data.get("messageId"), data.get("inputs"))
    except WebexError as error:
        return json_response({"error": error.message}, error.status)
    return json_response(action_json(action))


def downloads(st: EmulatorState, files: list[str]) -> list[dict[str, str]]:
    """Return the chat page's links for a message's stored files (name and control URL)."""
    found = []
    for url in files:
        content = content_from_url(st, url)
        if content is not None:
            found.append({"name": content.filename, "url": f"/_emulator/contents/{content.id}"})
    return found


@control_bp.get("/contents/<content_id>")
def download(content_id: str) -> Response:
    """Serve a file to the chat page (no token; the control API is a local test tool)."""
    st = state()
    with st.lock:
        uid = st.lookup("CONTENT", content_id)
        content = st.contents.get(uid) if uid else None
        if content is None:
            return json_response({"error": "unknown content"}, 404)
        return Response(
            content.data, content_type=content.content_type, headers=file_headers(content)
        )


@control_bp.post("/contents/<content_id>/scan")
def scan(content_id: str) -> Response:
    """Set a file's scan state: `{scan: clean|scanning|infected|unscannable, clean_after}`."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return json_response({"error": "the body must be a JSON object"}, 400)
    st = state()
    uid = st.lookup("CONTENT", content_id)
    content = st.contents.get(uid) if uid else None
    if content is None:
        return json_response({"error": "unknown content"}, 404)
    after = data.get("clean_after")
    if after is not None and (not isinstance(after, int | float) or after < 0):
        return json_response({"error": "clean_after must be a non-negative number"}, 400)
    try:
        set_scan(st, content, str(data.get("scan")), after)
    except ValueError as error:
        return json_response({"error": str(error)}, 400)
    return json_response({"id": content.id, "scan": content.scan})
