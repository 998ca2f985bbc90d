"""`/v1/contents/{id}`: a message's file, for members of its room, through the malware scan."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.contents import Content
from tokenbot.emulator.contents import store_file
from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state

bp = Blueprint("contents", __name__, url_prefix="/v1/contents")
guard(bp)

READ = "spark:messages_read"
NO_CONTENT = "The requested resource could not be found."


def _visible(content_id: str) -> Content:
    st = state()
    uid = st.lookup("CONTENT", content_id)
    content = st.contents.get(uid) if uid else None
    who = caller().person
    if content is None:
        raise WebexError(404, NO_CONTENT)
    if content.room_uuid is None:
        if content.owner_uuid != who.uuid:
            raise WebexError(404, NO_CONTENT)
    elif not st.is_member(who.uuid, content.room_uuid):
        raise WebexError(404, NO_CONTENT)
    return content


def file_headers(content: Content) -> dict[str, str]:
    """Return the headers Webex sends with a file (HEAD and GET alike)."""
    name = content.filename.replace('"', "")
    return {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Length": str(len(content.data)),
    }


@bp.route("/<content_id>", methods=["GET", "HEAD"])
def get_content(content_id: str) -> Response:
    """Return a file's bytes (GET) or only its headers (HEAD), after the scan allows it."""
    caller().require(READ)
    st = state()
    with st.lock:
        content = _visible(content_id)
        now = st.clock.now()
        scan = content.state_at(now)
        headers = file_headers(content)
        if request.method == "GET":
            if scan == "scanning":
                wait = {"Retry-After": str(content.retry_after(now))}
                raise WebexError(423, "The file is being scanned for malware.", wait)
            if scan == "infected":
                raise WebexError(410, "The file was found to be infected and was removed.")
            if scan == "unscannable" and request.args.get("allow") != "unscannable":
                raise WebexError(
                    428, "The file could not be scanned; add ?allow=unscannable to fetch it."
                )
        data = b"" if request.method == "HEAD" else content.data
        response = Response(data, status=200, content_type=content.content_type, headers=headers)
        if request.method == "HEAD":
            response.headers["Content-Length"] = str(len(content.data))
        return response


def content_url(content: Content) -> str:
    """Return the `/v1/contents/{id}` URL on the host the caller used."""
    return f"{request.host_url}v1/contents/{content.id}"


def take_upload(body: dict[str, Any], owner_uuid: str) -> None:
    """Store a multipart `files` part (the SDK's `files=[path]`) and name it in `body`."""
    parts = request.files.getlist("files")
    if not parts:
        return
    if len(parts) > 1 or body.get("files"):
        raise WebexError(400, "Only one file is allowed per message.")
    part = parts[0]
    content = store_file(
        state(), owner_uuid, part.filename or "", part.mimetype or "", part.stream.read()
    )
    body["files"] = [content_url(content)]


def take_json_file(body: dict[str, Any], owner_uuid: str) -> None:
    """Store a control-API `file: {name, contentType, base64}` and name it in `body`."""
    spec = body.pop("file", None)
    if spec is None:
        return
    if not isinstance(spec, dict) or not isinstance(spec.get("base64"), str):
        raise WebexError(400, "file must be {name, contentType, base64}.")
    try:
        data = base64.b64decode(spec["base64"], validate=True)
    except (ValueError, binascii.Error) as error:
        raise WebexError(400, "file.base64 is not valid base64.") from error
    content = store_file(
        state(), owner_uuid, str(spec.get("name") or ""), str(spec.get("contentType") or ""), data
    )
    body["files"] = [content_url(content)]
