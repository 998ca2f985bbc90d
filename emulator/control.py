"""The control API under /_emulator/: JSON, no Webex token, only in the emulator."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.control_guard import guard_control
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.faults import FaultSpecError
from tokenbot.emulator.faults import parse_fault
from tokenbot.emulator.ids import iso
from tokenbot.emulator.ids import make_id
from tokenbot.emulator.messaging import post_message
from tokenbot.emulator.model import Integration
from tokenbot.emulator.render import message_json
from tokenbot.emulator.render import person_json
from tokenbot.emulator.render import webhook_json
from tokenbot.emulator.rest.attachment_actions import downloads
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.rest.contents import take_json_file
from tokenbot.emulator.settings import SettingError
from tokenbot.emulator.tokens import issue_grant
from tokenbot.emulator.tokens import revoke_grants

bp = Blueprint(
    "control",
    __name__,
    url_prefix="/_emulator",
    static_folder="static",
    static_url_path="/static",
)


guard_control(bp)


class ControlError(Exception):
    """A bad control request (400 with `{"error": ...}`)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def control_error_response(error: ControlError) -> Response:
    """Render a ControlError."""
    return json_response({"error": error.message}, error.status)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.data else {}
    if not isinstance(data, dict):
        raise ControlError("the body must be a JSON object")
    return data


@bp.post("/reset")
def reset() -> Response:
    """Return to the seed."""
    state().reset()
    return json_response({"reset": True})


@bp.get("/people")
def people() -> Response:
    """List every sandbox person in the shape of /v1/people."""
    st = state()
    with st.lock:
        found = sorted(st.people.values(), key=lambda p: p.email)
        return json_response({"items": [person_json(st, p) for p in found]})


@bp.post("/integrations")
def add_integration() -> Response:
    """Register an integration; a missing client_id or secret is generated."""
    body = _body()
    uris = body.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise ControlError("redirect_uris must be a non-empty list of strings")
    scopes = body.get("scopes")
    if scopes is None:
        scopes = list(state().seed["integrations"][0]["scopes"])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ControlError("scopes must be a list of strings")
    integration = Integration(
        client_id=str(body.get("client_id") or "C" + secrets.token_hex(32)),
        client_secret=str(body.get("client_secret") or secrets.token_hex(32)),
        redirect_uris=list(uris),
        scopes=list(scopes),
        name=str(body.get("name") or "Test integration"),
    )
    state().add_integration(integration)
    return json_response(_integration_json(integration, with_secret=True))


@bp.get("/integrations")
def list_integrations() -> Response:
    """List integrations (without secrets)."""
    st = state()
    with st.lock:
        items = [_integration_json(i, with_secret=False) for i in st.integrations.values()]
    return json_response({"items": items})


def _integration_json(integration: Integration, with_secret: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": integration.client_id,
        "redirect_uris": integration.redirect_uris,
        "scopes": integration.scopes,
        "name": integration.name,
        "appId": integration.app_id,
    }
    if with_secret:
        body["client_secret"] = integration.client_secret
    return body


@bp.get("/settings")
def get_settings() -> Response:
    """Return every setting."""
    st = state()
    with st.lock:
        return json_response(st.settings.as_dict())


@bp.post("/settings")
def set_settings() -> Response:
    """Change settings (all or nothing; an unknown name is a 400 naming it)."""
    st = state()
    with st.lock:
        try:
            st.settings.update(_body())
            st.apply_clusters()
        except SettingError as exc:
            raise ControlError(str(exc)) from exc
        return json_response(st.settings.as_dict())


@bp.post("/tokens")
def mint_token() -> Response:
    """Mint a grant directly; answers like /v1/access_token."""
    body = _body()
    st = state()
    with st.lock:
        integration = st.integrations.get(str(body.get("client_id", "")))
        if integration is None:
            raise ControlError(f"unknown client_id {body.get('client_id')!r}")
        person = st.person_by_email(str(body.get("email", "")))
        if person is None:
            raise ControlError(f"unknown person {body.get('email')!r}")
        scopes = body.get("scopes", integration.scopes)
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list) or not scopes:
            raise ControlError("scopes must be a non-empty list or space-separated string")
        outside = [s for s in scopes if s not in integration.scopes]
        if outside:
            raise ControlError(f"scopes not granted to the integration: {outside}")
        _, tokens = issue_grant(st, integration.client_id, person.uuid, list(scopes))
        return json_response(tokens)


@bp.post("/messages")
def post_as_person() -> Response:
    """Post a message as a sandbox person (webhooks fire)."""
    body = _body()
    st = state()
    with st.lock:
        person = st.person_by_email(str(body.pop("personEmail", "")))
        if person is None:
            raise ControlError("personEmail must name a sandbox person")
        take_json_file(body, person.uuid)
        message = post_message(st, person, body)
        return json_response(message_json(st, message, created=True))


@bp.get("/clock")
def get_clock() -> Response:
    """Return the emulator's time."""
    now = state().clock.now()
    return json_response({"now": iso(now), "epoch": now.timestamp()})


@bp.post("/clock")
def advance_clock() -> Response:
    """Move the emulator's clock forward."""
    seconds = _body().get("advance_seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ControlError("advance_seconds must be a non-negative number")
    now = state().clock.advance(float(seconds))
    return json_response({"now": iso(now), "epoch": now.timestamp()})


@bp.post("/faults")
def add_fault() -> Response:
    """Inject a fault for the next `count` matching calls."""
    try:
        fault = parse_fault(_body())
    except FaultSpecError as exc:
        raise ControlError(str(exc)) from exc
    state().faults.add(fault)
    return json_response({"items": state().faults.list()})


@bp.get("/faults")
def list_faults() -> Response:
    """List the active faults."""
    return json_response({"items": state().faults.list()})


@bp.delete("/faults")
def clear_faults() -> Response:
    """Clear every fault."""
    state().faults.clear()
    return json_response({"items": []})


@bp.get("/calls")
def calls() -> Response:
    """Return the call log, filtered by exact path and method."""
    items = state().calls.items(request.args.get("path"), request.args.get("method"))
    return json_response({"items": items})


@bp.delete("/calls")
def clear_calls() -> Response:
    """Empty the call log."""
    state().calls.clear()
    return json_response({"items": []})


@bp.post("/grants/revoke")
def revoke() -> Response:
    """Revoke grants by person and/or client."""
    body = _body()
    email, client_id = body.get("email"), body.get("client_id")
    if email is None and client_id is None:
        raise ControlError("give email and/or client_id")
    return json_response({"revoked": revoke_grants(state(), email, client_id)})


@bp.get("/grants")
def grants() -> Response:
    """List grants (never token values)."""
    st = state()
    with st.lock:
        items = [
            {
                "id": g.uuid,
                "client_id": g.client_id,
                "email": st.people[g.person_uuid].email,
                "scopes": g.scopes,
                "created": iso(g.created),
                "revoked": g.revoked,
            }
            for g in st.grants.values()
        ]
    return json_response({"items": items})


@bp.get("/webhooks")
def webhooks() -> Response:
    """List every webhook with its delivery counters (`hasSecret`, never the secret)."""
    st = state()
    with st.lock:
        items = []
        for webhook in st.webhooks.values():
            item = webhook_json(st, webhook)
            # Whether a secret is set, never the secret: it signs deliveries as Webex.
            item["hasSecret"] = item.pop("secret", None) is not None
            item["ownerEmail"] = st.people[webhook.owner_uuid].email
            item["failures"] = webhook.failure_total
            item["successes"] = webhook.success_total
            items.append(item)
    return json_response({"items": items})


@bp.get("/deliveries")
def deliveries() -> Response:
    """List webhook delivery attempts, optionally for one webhook id."""
    st = state()
    wanted = request.args.get("webhookId")
    with st.lock:
        items = [d for d in st.deliveries if wanted is None or d["webhookId"] == wanted]
    return json_response({"items": [dict(d) for d in items]})


@bp.get("/rooms")
def rooms() -> Response:
    """List rooms (all, or one person's) with their members, for tests and the chat page."""
    st = state()
    email = request.args.get("email")
    with st.lock:
        person = st.person_by_email(email) if email else None
        if email and person is None:
            raise ControlError(f"unknown person {email!r}", 404)
        found = st.rooms_of(person.uuid) if person else list(st.rooms.values())
        items = []
        for room in sorted(found, key=lambda r: (r.type != "group", r.title, r.uuid)):
            members = sorted(p.email for p in st.room_members(room.uuid))
            title = room.title
            if room.type == "direct":
                names = [
                    p.display_name
                    for p in st.room_members(room.uuid)
                    if person is None or p.uuid != person.uuid
                ]
                title = " & ".join(sorted(names))
            items.append({"id": room.id, "title": title, "type": room.type, "members": members})
    return json_response({"items": items})


@bp.get("/rooms/<room_id>/messages")
def room_messages(room_id: str) -> Response:
    """Return a room's messages oldest first, after sequence `after` (for polling)."""
    st = state()
    try:
        after = int(request.args.get("after", "0"))
    except ValueError as exc:
        raise ControlError("after must be an integer") from exc
    with st.lock:
        room = st.room_by_id(room_id)
        if room is None:
            raise ControlError("unknown room", 404)
        items = []
        for message in st.room_messages[room.uuid]:
            if message.seq <= after:
                continue
            item = message_json(st, message)
            item["seq"] = message.seq
            item["personDisplayName"] = st.people[message.person_uuid].display_name
            item["downloads"] = downloads(st, message.files)
            items.append(item)
    return json_response({"items": items, "roomId": make_id("ROOM", room.uuid)})
