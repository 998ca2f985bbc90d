"""`/v1/people`: me, by id, and the directory lookup by email, displayName or id."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.render import person_json
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.rest.body import bool_query
from tokenbot.emulator.rest.paging import items_body
from tokenbot.emulator.rest.paging import max_param
from tokenbot.emulator.rest.paging import page_by_offset

bp = Blueprint("people", __name__, url_prefix="/v1/people")
guard(bp)

SCOPE = "spark:people_read"
MAX_IDS = 85  # the spec: "Accepts up to 85 person IDs separated by commas"


@bp.get("/me")
def me() -> Response:
    """Return the caller."""
    who = caller()
    who.require(SCOPE)
    st = state()
    with st.lock:
        return json_response(person_json(st, who.person))


@bp.get("/<person_id>")
def get_person(person_id: str) -> Response:
    """Return one person."""
    caller().require(SCOPE)
    st = state()
    with st.lock:
        person = st.person_by_id(person_id)
        if person is None:
            raise WebexError(404, "Person not found.")
        return json_response(person_json(st, person))


@bp.get("")
def list_people() -> Response:
    """List people by email, displayName (prefix) or id list."""
    caller().require(SCOPE)
    st = state()
    email = request.args.get("email")
    name = request.args.get("displayName")
    ids = request.args.get("id")
    if not (email or name or ids):
        raise WebexError(400, "Email, displayName, or id list should be specified.")
    size = max_param(100, 1000)
    bool_query("callingData")
    bool_query("excludeStatus")
    with st.lock:
        people = sorted(st.people.values(), key=lambda p: p.email)
        if email:
            people = [p for p in people if p.email == email.strip().lower()]
        if name:
            people = [p for p in people if p.display_name.lower().startswith(name.lower())]
        if ids:
            parts = [part.strip() for part in ids.split(",") if part.strip()]
            if len(parts) > MAX_IDS:
                raise WebexError(
                    400, f"Too many ids: {len(parts)} given, at most {MAX_IDS} are accepted."
                )
            wanted = {st.lookup("PEOPLE", part) for part in parts}
            people = [p for p in people if p.uuid in wanted]
        chunk, headers = page_by_offset(people, size)
        return json_response(items_body([person_json(st, p) for p in chunk]), headers=headers)
