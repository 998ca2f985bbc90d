"""`/v1/webhooks`: create, list, get, update (incl. re-activation), delete."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint
from flask import Response

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.events import FILTER_KEYS
from tokenbot.emulator.events import RESOURCE_EVENTS
from tokenbot.emulator.events import parse_filter
from tokenbot.emulator.ids import new_uuid
from tokenbot.emulator.model import Webhook
from tokenbot.emulator.render import webhook_json
from tokenbot.emulator.rest.auth import Caller
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.rest.body import json_body
from tokenbot.emulator.rest.paging import items_body
from tokenbot.emulator.rest.paging import max_param
from tokenbot.emulator.rest.paging import page_by_offset

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")
guard(bp)

NOT_FOUND = "Webhook not found."
READ_SCOPES = {
    "messages": ["spark:messages_read"],
    "memberships": ["spark:memberships_read"],
    "rooms": ["spark:rooms_read"],
    "attachmentActions": ["spark:messages_read"],
    "all": ["spark:memberships_read", "spark:messages_read", "spark:rooms_read"],
}


def _check_target(value: object) -> str:
    if not isinstance(value, str):
        raise WebexError(400, "targetUrl is required.")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise WebexError(400, "targetUrl must be an http or https URL.")
    return value


def _check_filter(who: Caller, resource: str, text: object) -> str | None:
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise WebexError(400, "filter must be a string.")
    st = state()
    for key, value in parse_filter(text).items():
        if key not in FILTER_KEYS[resource]:
            raise WebexError(400, f"invalid filter: {key}")
        if key == "roomId":
            room = st.room_by_id(value)
            if room is None or not st.is_member(who.person.uuid, room.uuid):
                raise WebexError(400, "invalid value for filter: roomId")
    return text


@bp.post("")
def create() -> Response:
    """Create a webhook owned by the caller (through the caller's integration)."""
    who = caller()
    body = json_body()
    for key in ("name", "targetUrl", "resource", "event"):
        if not body.get(key):
            raise WebexError(400, f"{key} is required.")
    resource, event = body["resource"], body["event"]
    if resource not in RESOURCE_EVENTS:
        raise WebexError(400, f"Invalid resource: {resource}")
    if event != "all" and event not in RESOURCE_EVENTS[resource]:
        raise WebexError(400, f"Invalid event for {resource}: {event}")
    who.require(*READ_SCOPES[resource])
    st = state()
    with st.lock:
        webhook = Webhook(
            uuid=new_uuid(),
            name=str(body["name"]),
            target_url=_check_target(body["targetUrl"]),
            resource=resource,
            event=event,
            filter=_check_filter(who, resource, body.get("filter")),
            secret=str(body["secret"]) if body.get("secret") else None,
            owner_uuid=who.person.uuid,
            client_id=who.grant.client_id,
            created=st.clock.now(),
        )
        st.webhooks[webhook.uuid] = webhook
        return json_response(webhook_json(st, webhook))


def _own(webhook_id: str) -> Webhook:
    who = caller()
    webhook = state().webhook_by_id(webhook_id)
    if (
        webhook is None
        or webhook.owner_uuid != who.person.uuid
        or webhook.client_id != who.grant.client_id
    ):
        raise WebexError(404, NOT_FOUND)
    return webhook


@bp.get("")
def list_webhooks() -> Response:
    """List the caller's webhooks for this integration."""
    who = caller()
    size = max_param(100, 1000)
    st = state()
    with st.lock:
        mine = [
            w
            for w in st.webhooks.values()
            if w.owner_uuid == who.person.uuid and w.client_id == who.grant.client_id
        ]
        mine.sort(key=lambda w: (w.created, w.uuid))
        chunk, headers = page_by_offset(mine, size)
        return json_response(items_body([webhook_json(st, w) for w in chunk]), headers=headers)


@bp.get("/<webhook_id>")
def get_webhook(webhook_id: str) -> Response:
    """Return one of the caller's webhooks."""
    st = state()
    with st.lock:
        return json_response(webhook_json(st, _own(webhook_id)))


@bp.put("/<webhook_id>")
def update_webhook(webhook_id: str) -> Response:
    """Update name, targetUrl, secret; `status: active` re-activates a disabled webhook."""
    body = json_body()
    for key in ("name", "targetUrl"):
        if not body.get(key):
            raise WebexError(400, f"{key} is required.")
    st = state()
    with st.lock:
        webhook = _own(webhook_id)
        webhook.name = str(body["name"])
        webhook.target_url = _check_target(body["targetUrl"])
        if "secret" in body:
            webhook.secret = str(body["secret"]) if body["secret"] else None
        status = body.get("status")
        if status not in (None, "active", "inactive"):
            raise WebexError(400, f"Invalid status: {status}")
        if status == "active" and webhook.status != "active":
            webhook.status = "active"
            webhook.reactivated_at = st.clock.now()
            webhook.failures.clear()
        return json_response(webhook_json(st, webhook))


@bp.delete("/<webhook_id>")
def delete_webhook(webhook_id: str) -> Response:
    """Delete one of the caller's webhooks."""
    st = state()
    with st.lock:
        webhook = _own(webhook_id)
        del st.webhooks[webhook.uuid]
    return Response(status=204)
