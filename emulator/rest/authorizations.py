"""`/v1/authorizations`: an org admin lists and revokes people's grants to integrations.

As Webex's admin API describes it (webex-admin.json, tag "Authorizations"):

- ``GET /v1/authorizations?personId=|personEmail=`` lists a person's authorizations (no
  paging); one of the two is required.
- ``DELETE /v1/authorizations/{authorizationId}`` deletes one: 204.
- ``DELETE /v1/authorizations?clientId=[&orgId=]`` deletes every authorization of the org to
  that integration: 204.
- ``GET /v1/authorizations/tokenExpiry`` returns ``{"exp": <epoch ms>}`` of the caller's token.

The scopes: listing needs ``identity:tokens_read`` (or ``identity:tokens_write``), deleting
``identity:tokens_write``; both are admin scopes, and the sandbox is one org whose people all
may hold them when an integration grants them. A grant is listed as one ``refresh``
authorization; deleting it revokes the grant, so its refresh and access tokens stop working.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.ids import iso
from tokenbot.emulator.ids import make_id
from tokenbot.emulator.ids import parse_id
from tokenbot.emulator.model import Grant
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state

bp = Blueprint("authorizations", __name__, url_prefix="/v1/authorizations")
guard(bp)

READ = "identity:tokens_read"
WRITE = "identity:tokens_write"
NOT_FOUND = "The requested resource could not be found."


def _require_read() -> None:
    who = caller()
    if WRITE in who.grant.scopes:
        return
    who.require(READ)


def _authorization_json(grant: Grant) -> dict[str, Any]:
    st = state()
    integration = st.integrations.get(grant.client_id)
    return {
        "id": make_id("AUTHORIZATION", grant.uuid),
        "applicationId": make_id("APPLICATION", grant.client_id),
        "applicationName": integration.name if integration else "",
        "personId": make_id("PEOPLE", grant.person_uuid),
        "clientId": grant.client_id,
        "created": iso(grant.created),
        "type": "refresh",
    }


@bp.get("")
def list_authorizations() -> Response:
    """List a person's live authorizations."""
    _require_read()
    st = state()
    person_id = request.args.get("personId")
    email = request.args.get("personEmail")
    if not person_id and not email:
        raise WebexError(400, "Either personId or personEmail must be provided.")
    with st.lock:
        person = st.person_by_id(person_id) if person_id else st.person_by_email(email or "")
        if person is None:
            raise WebexError(404, NOT_FOUND)
        grants = sorted(
            (g for g in st.grants.values() if g.person_uuid == person.uuid and not g.revoked),
            key=lambda g: g.created,
        )
        return json_response({"items": [_authorization_json(g) for g in grants]})


@bp.get("/tokenExpiry")
def token_expiry() -> Response:
    """Return when the caller's own access token expires, in epoch milliseconds."""
    st = state()
    with st.lock:
        token = st.access_tokens.get(caller().token)
        if token is None:
            raise WebexError(401, "The request requires a valid access token.")
        return json_response({"exp": int(token.expires_at.timestamp() * 1000)})


@bp.delete("/<authorization_id>")
def delete_authorization(authorization_id: str) -> Response:
    """Revoke one authorization (the grant behind it)."""
    caller().require(WRITE)
    st = state()
    parsed = parse_id(authorization_id)
    with st.lock:
        grant = st.grants.get(parsed[1]) if parsed and parsed[0] == "AUTHORIZATION" else None
        if grant is None or grant.revoked:
            raise WebexError(404, NOT_FOUND)
        grant.revoked = True
    return Response(status=204)


@bp.delete("")
def delete_by_client() -> Response:
    """Revoke every authorization of the org (the sandbox) to one integration."""
    caller().require(WRITE)
    st = state()
    client_id = request.args.get("clientId")
    if not client_id:
        raise WebexError(400, "clientId is required.")
    org_id = request.args.get("orgId")
    if org_id and org_id != st.org_id:
        raise WebexError(404, NOT_FOUND)
    with st.lock:
        matching = [g for g in st.grants.values() if g.client_id == client_id and not g.revoked]
        if not matching:
            raise WebexError(404, NOT_FOUND)
        for grant in matching:
            grant.revoked = True
    return Response(status=204)
