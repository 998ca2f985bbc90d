"""HTTP and websocket routes of the websocket intake: U2C, WDM, Mercury and their control API.

- `GET /u2c/api/v1/catalog?format=hostmap` (Bearer): `serviceLinks.wdm` points at the region
  of setting `wdm_region` (default `a`).
- `/wdm/<region>/api/v1/devices[/<id>]`: POST, GET, PUT, DELETE (Bearer; `spark:all` unless
  `wdm_require_spark_all` is false); the per-person cap `wdm_device_cap` answers 400
  "User has excessive device registrations".
- `WS /mercury/<region>/v1/apps/wx2/registrations/<id>/messages`: in-band authorization frame,
  `mercury.buffer_state`, JSON ping/pong, acks, activities. A device registered outside the
  home region gets a socket that authorizes and stays silent ("wrong region").

The server side uses flask-sock (simple-websocket + wsproto): it runs on werkzeug's threaded
server the emulator already uses, so the socket shares the emulator's port and call log.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import request
from flask_sock import Sock

from tokenbot.emulator.control_guard import guard_control
from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.ids import iso
from tokenbot.emulator.mercury.hub import Connection
from tokenbot.emulator.mercury.hub import MercuryHub
from tokenbot.emulator.rest.auth import Caller
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.state import EmulatorState

EXCESSIVE = "User has excessive device registrations"
DEVICE_GONE = "The requested device was not found."
_CATALOG_CLUSTER = "urn:TEAM:us-east-2_a"

u2c_bp = Blueprint("mercury_u2c", __name__, url_prefix="/u2c/api/v1")
conversation_bp = Blueprint("mercury_conversation", __name__, url_prefix="/conversation/api/v1")
wdm_bp = Blueprint("mercury_wdm", __name__, url_prefix="/wdm/<region>/api/v1")
control_bp = Blueprint("mercury_control", __name__, url_prefix="/_emulator")
guard(u2c_bp)
guard(wdm_bp)
guard(conversation_bp)
guard_control(control_bp)  # the control API refuses cross-site and form-typed writes


def install(app: Flask, st: EmulatorState) -> MercuryHub:
    """Add the routes to `app` and a hub to `st` (once); return the hub."""
    hub: MercuryHub | None = st.mercury
    if hub is None:
        hub = MercuryHub(st)
        st.mercury = hub
    sock = Sock()
    for bp in (u2c_bp, wdm_bp, conversation_bp, control_bp):
        app.register_blueprint(bp)
    sock.init_app(app)
    sock.route(_SOCKET_PATH)(_socket)
    app.before_request(_handshake_404)
    return hub


_SOCKET_PATH = "/mercury/<region>/v1/apps/wx2/registrations/<device_id>/messages"


def _handshake_404() -> Response | None:
    """Answer the upgrade of a deleted registration with 404, as Mercury does."""
    if not request.path.startswith("/mercury/") or request.view_args is None:
        return None
    device_id = request.view_args.get("device_id")
    hub = hub_of(state())
    with hub.lock:
        known = device_id in hub.devices
    if known:
        return None
    return json_response({"message": "registration not found", "errors": []}, 404)


def hub_of(st: EmulatorState) -> MercuryHub:
    """Return the state's hub."""
    found: MercuryHub = st.mercury
    return found


def _base_url() -> str:
    return request.host_url.rstrip("/")


# -- U2C -------------------------------------------------------------------------------------


@u2c_bp.get("/catalog")
def catalog() -> Response:
    """Answer the hostmap: service links and the host catalog with cluster ids."""
    st = state()
    base = _base_url()
    hub_of(st).base_url = base
    region = st.settings.wdm_region
    host = request.host
    links = {
        "wdm": f"{base}/wdm/{region}/api/v1",
        "conversation": f"{base}/conversation/api/v1",
        "hydra": f"{base}/v1",
        "encryption": f"{base}/encryption/api/v1",
        "u2c": f"{base}/u2c/api/v1",
    }
    catalog_ids = [
        {"host": host, "ttl": -1, "priority": 5, "id": f"{_CATALOG_CLUSTER}:{name}"}
        for name in links
    ]
    return json_response(
        {"serviceLinks": links, "hostCatalog": {host: catalog_ids}, "format": "hostmap"}
    )


# -- conversation service ----------------------------------------------------------------------


@conversation_bp.get("/messages/<message_uuid>")
def conversation_message(message_uuid: str) -> Response:
    """Answer the REST id of a message (webex_bot's way to learn the cluster)."""
    who = caller()
    st = state()
    with st.lock:
        message = st.messages.get(message_uuid)
        if message is None or not st.is_member(who.person.uuid, message.room_uuid):
            raise WebexError(404, "The requested resource could not be found.")
        return json_response({"id": message.id, "objectType": "activity"})


@conversation_bp.get("/attachment/actions/<action_uuid>")
def conversation_action(action_uuid: str) -> Response:
    """Answer the REST id of a card submit (webex_bot's way for a `cardAction`)."""
    who = caller()
    st = state()
    with st.lock:
        action = st.attachment_actions.get(action_uuid)
        if action is None or not st.is_member(who.person.uuid, action.room_uuid):
            raise WebexError(404, "The requested resource could not be found.")
        return json_response({"id": action.id, "objectType": "activity"})


# -- WDM -------------------------------------------------------------------------------------


def _wdm_caller() -> Caller:
    who = caller()
    if state().settings.wdm_require_spark_all and "spark:all" not in who.grant.scopes:
        raise WebexError(403, "Missing required scope: spark:all")
    return who


@wdm_bp.post("/devices")
def register(region: str) -> Response:
    """Register a device for the caller."""
    who = _wdm_caller()
    st = state()
    hub = hub_of(st)
    hub.base_url = _base_url()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise WebexError(400, "The request body must be a JSON device object.")
    with st.lock:
        if len(hub.devices_of(who.person.uuid)) >= st.settings.wdm_device_cap:
            raise WebexError(400, EXCESSIVE)
        device = hub.register(who.person, body, region)
    return json_response(hub.device_json(device, _base_url()))


@wdm_bp.get("/devices")
def list_devices(region: str) -> Response:
    """List every device of the caller (the person's own desktop and phone too)."""
    who = _wdm_caller()
    hub = hub_of(state())
    found = hub.devices_of(who.person.uuid)
    return json_response({"devices": [hub.device_json(d, _base_url()) for d in found]})


@wdm_bp.delete("/devices")
def delete_all(region: str) -> Response:
    """Delete every device of the caller (what a careless client does)."""
    who = _wdm_caller()
    hub = hub_of(state())
    for device in hub.devices_of(who.person.uuid):
        hub.delete(device.uuid)
    return Response(status=204)


def _own_device(device_id: str) -> Any:
    who = _wdm_caller()
    hub = hub_of(state())
    with hub.lock:
        device = hub.devices.get(device_id)
    if device is None or device.owner_uuid != who.person.uuid:
        raise WebexError(404, DEVICE_GONE)
    return device


@wdm_bp.get("/devices/<device_id>")
def get_device(region: str, device_id: str) -> Response:
    """Return one device."""
    return json_response(hub_of(state()).device_json(_own_device(device_id), _base_url()))


@wdm_bp.put("/devices/<device_id>")
def refresh_device(region: str, device_id: str) -> Response:
    """Refresh a device (404 once it is gone: register again)."""
    device = _own_device(device_id)
    body = request.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("name"), str):
        device.name = body["name"][:256]
    device.modified = state().clock.now()
    return json_response(hub_of(state()).device_json(device, _base_url()))


@wdm_bp.delete("/devices/<device_id>")
def delete_device(region: str, device_id: str) -> Response:
    """Unregister a device."""
    device = _own_device(device_id)
    hub_of(state()).delete(device.uuid)
    return Response(status=204)


# -- Mercury ---------------------------------------------------------------------------------


def _socket(ws: Any, region: str, device_id: str) -> None:
    """Serve one Mercury socket until it closes."""
    st = state()
    hub = hub_of(st)
    with hub.lock:
        device = hub.devices.get(device_id)
    if device is None:  # deleted between the handshake check and now
        ws.close(reason=4400, message="registration not found")
        return
    connection = hub.open(device, ws, region)
    try:
        _serve(st, hub, connection)
    finally:
        hub.forget(connection)
        _end_tcp(ws)


def _end_tcp(ws: Any) -> None:
    """Let the client's close frame arrive, then end the TCP connection.

    werkzeug keeps an HTTP/1.1 connection open after the handler returns; a websocket client
    waits for the server to close TCP after the closing handshake, so without this it would
    hang until its own close timeout.
    """
    thread = getattr(ws, "thread", None)
    if thread is not None:
        thread.join(2.0)
    try:
        ws.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _serve(st: EmulatorState, hub: MercuryHub, connection: Connection) -> None:
    header = request.headers.get("Authorization", "")
    deadline = time.monotonic() + st.settings.mercury_auth_timeout
    while not connection.authorized:
        left = deadline - time.monotonic()
        if left <= 0:
            hub.close(connection, 1008, "authentication did not happen within the timeout window")
            return
        raw = connection.ws.receive(timeout=min(left, 1.0))
        if connection.closed.is_set():
            return
        if raw is None:
            continue
        frame = _parse(raw)
        if frame is None or frame.get("type") != "authorization":
            continue
        data = frame.get("data")
        token = str((data.get("token") if isinstance(data, dict) else None) or header)
        # The JS SDK sends "Bearer <token>", the Go SDK the bare token: accept both.
        if token.lower().startswith("bearer "):
            token = token[7:]
        refused = hub.authorize(connection, token.strip())
        if refused is not None:
            hub.close(connection, refused, "not authorized" if refused == 4401 else "forbidden")
            return
    hub.ready(connection)
    while not connection.closed.is_set() and not st.halt.is_set():
        raw = connection.ws.receive(timeout=1.0)
        if raw is None:
            if not connection.ws.connected:
                return
            continue
        frame = _parse(raw)
        if frame is None:
            continue
        kind = frame.get("type")
        if kind == "ping":
            if st.settings.mercury_answer_pings:
                hub.send(connection, {"id": frame.get("id"), "type": "pong"})
        elif kind == "ack":
            hub.ack(connection, frame.get("messageId"))
        elif kind == "authorization":
            # Re-authorization on an open socket (a refreshed token).
            data = frame.get("data")
            token = str((data.get("token") if isinstance(data, dict) else None) or "")
            if token.lower().startswith("bearer "):
                token = token[7:]
            if hub.authorize(connection, token.strip()) is not None:
                hub.close(connection, 4401, "not authorized")
                return


def _parse(raw: Any) -> dict[str, Any] | None:
    try:
        frame = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return frame if isinstance(frame, dict) else None


# -- control ---------------------------------------------------------------------------------


@control_bp.get("/devices")
def control_devices() -> Response:
    """List every device with its owner's email."""
    st = state()
    hub = hub_of(st)
    with hub.lock:
        devices = list(hub.devices.values())
    items = []
    for device in sorted(devices, key=lambda d: d.created):
        owner = st.people.get(device.owner_uuid)
        body = hub.device_json(device, _base_url())
        body.update(
            {
                "id": device.uuid,
                "ownerEmail": owner.email if owner else None,
                "seeded": device.seeded,
                "region": device.region,
                "pending": len(device.pending),
                "created": iso(device.created),
            }
        )
        items.append(body)
    return json_response({"items": items})


@control_bp.get("/websockets")
def control_sockets() -> Response:
    """List open sockets: owner, device, connected since, acks."""
    return json_response({"items": hub_of(state()).sockets_json()})


@control_bp.post("/websockets/close")
def control_close() -> Response:
    """Close matching sockets with a code (1006: drop the connection, no close frame)."""
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        return json_response({"error": "the body must be a JSON object"}, 400)
    code = body.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
        return json_response({"error": "code must be an integer from 1000 to 4999"}, 400)
    email = body.get("email")
    if email is not None and not isinstance(email, str):
        return json_response({"error": "email must be a string"}, 400)
    reason = str(body.get("reason") or "")
    closed = hub_of(state()).close_all(code, reason, email=email)
    return json_response({"closed": closed})


@control_bp.post("/websockets/replay")
def control_replay() -> Response:
    """Send a person's last activity frames again, unchanged: `{email, count, verb}`.

    `count` defaults to 1; `verb` (e.g. `cardAction`) picks only activities of that verb.
    """
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict) or not isinstance(body.get("email"), str):
        return json_response({"error": "the body must be a JSON object with an email"}, 400)
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 20:
        return json_response({"error": "count must be an integer from 1 to 20"}, 400)
    verb = body.get("verb")
    if verb is not None and not isinstance(verb, str):
        return json_response({"error": "verb must be a string"}, 400)
    return json_response({"sent": hub_of(state()).replay(body["email"], count, verb)})
