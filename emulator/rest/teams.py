"""`/v1/teams` and `/v1/team/memberships`: teams, their General room and their members.

A team's creator is its first moderator. Creating a team creates its General room (titled
like the team, with `teamId`); joining a team joins that room, leaving it leaves the room.
Moderators rename and delete the team and add, promote or remove others; anyone may leave; the
last moderator may not (the spec: "promote another user to team moderator first").
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.errors import json_response
from tokenbot.emulator.ids import new_uuid
from tokenbot.emulator.messaging import add_member
from tokenbot.emulator.messaging import create_room
from tokenbot.emulator.messaging import delete_room
from tokenbot.emulator.messaging import remove_member
from tokenbot.emulator.model import Person
from tokenbot.emulator.model import Team
from tokenbot.emulator.model import TeamMembership
from tokenbot.emulator.render import team_json
from tokenbot.emulator.render import team_membership_json
from tokenbot.emulator.rest.auth import caller
from tokenbot.emulator.rest.auth import guard
from tokenbot.emulator.rest.auth import state
from tokenbot.emulator.rest.body import bool_field
from tokenbot.emulator.rest.body import json_body
from tokenbot.emulator.rest.paging import items_body
from tokenbot.emulator.rest.paging import max_param
from tokenbot.emulator.rest.paging import page_by_offset
from tokenbot.emulator.state import EmulatorState

teams_bp = Blueprint("teams", __name__, url_prefix="/v1/teams")
guard(teams_bp)
members_bp = Blueprint("team_memberships", __name__, url_prefix="/v1/team/memberships")
guard(members_bp)

READ = "spark:teams_read"
WRITE = "spark:teams_write"
NO_TEAM = "Could not find a team with provided ID."
NO_MEMBERSHIP = "Team membership not found."


def _name(body: dict[str, object]) -> tuple[str, str | None]:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise WebexError(400, "name is required.")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise WebexError(400, "description must be a string.")
    return name.strip(), (description or "").strip() or None


def _team(st: EmulatorState, team_id: str | None, who: Person) -> Team:
    """Return a team the caller is in (404 otherwise: others' teams do not exist for them)."""
    team = st.team_by_id(team_id)
    if team is None or (who.uuid, team.uuid) not in st.team_memberships:
        raise WebexError(404, NO_TEAM)
    return team


def _moderates(st: EmulatorState, who: Person, team: Team) -> bool:
    membership = st.team_memberships.get((who.uuid, team.uuid))
    return membership is not None and membership.is_moderator


def _join(st: EmulatorState, team: Team, person: Person, actor: Person, moderator: bool) -> None:
    st.team_memberships[(person.uuid, team.uuid)] = TeamMembership(
        person.uuid, team.uuid, moderator, st.clock.now()
    )
    room = st.rooms.get(team.general_room_uuid or "")
    if room is not None and not st.is_member(person.uuid, room.uuid):
        add_member(st, room, person, actor, moderator)


@teams_bp.get("")
def list_teams() -> Response:
    """List the caller's teams."""
    who = caller()
    who.require(READ)
    size = max_param(100, 1000)
    st = state()
    with st.lock:
        mine = [st.teams[t] for (p, t) in st.team_memberships if p == who.person.uuid]
        mine.sort(key=lambda t: (t.created, t.uuid))
        chunk, headers = page_by_offset(mine, size)
        return json_response(items_body([team_json(t) for t in chunk]), headers=headers)


@teams_bp.post("")
def create_team() -> Response:
    """Create a team with its General room; the caller is its moderator."""
    who = caller()
    who.require(WRITE)
    name, description = _name(json_body())
    st = state()
    with st.lock:
        team = Team(new_uuid(), name, who.person.uuid, st.clock.now(), description)
        st.teams[team.uuid] = team
        st.team_memberships[(who.person.uuid, team.uuid)] = TeamMembership(
            who.person.uuid, team.uuid, True, team.created
        )
        room = create_room(st, who.person, name, team_uuid=team.uuid)
        team.general_room_uuid = room.uuid
        return json_response(team_json(team))


@teams_bp.get("/<team_id>")
def get_team(team_id: str) -> Response:
    """Return one of the caller's teams."""
    who = caller()
    who.require(READ)
    st = state()
    with st.lock:
        return json_response(team_json(_team(st, team_id, who.person)))


@teams_bp.put("/<team_id>")
def update_team(team_id: str) -> Response:
    """Rename a team (a moderator)."""
    who = caller()
    who.require(WRITE)
    name, description = _name(json_body())
    st = state()
    with st.lock:
        team = _team(st, team_id, who.person)
        if not _moderates(st, who.person, team):
            raise WebexError(403, "Only a team moderator can update the team.")
        team.name = name
        team.description = description
        return json_response(team_json(team))


@teams_bp.delete("/<team_id>")
def delete_team(team_id: str) -> Response:
    """Delete a team and its rooms (a moderator)."""
    who = caller()
    who.require(WRITE)
    st = state()
    with st.lock:
        team = _team(st, team_id, who.person)
        if not _moderates(st, who.person, team):
            raise WebexError(403, "Only a team moderator can delete the team.")
        for room in [r for r in st.rooms.values() if r.team_uuid == team.uuid]:
            delete_room(st, room, who.person)
        for key in [k for k in st.team_memberships if k[1] == team.uuid]:
            del st.team_memberships[key]
        del st.teams[team.uuid]
    return Response(status=204)


@members_bp.get("")
def list_team_memberships() -> Response:
    """List a team's memberships (`teamId` required)."""
    who = caller()
    who.require(READ)
    team_id = request.args.get("teamId")
    if not team_id:
        raise WebexError(400, "teamId is required.")
    size = max_param(100, 1000)
    st = state()
    with st.lock:
        team = _team(st, team_id, who.person)
        found = [m for (p, t), m in st.team_memberships.items() if t == team.uuid]
        found.sort(key=lambda m: (m.created, m.person_uuid))
        chunk, headers = page_by_offset(found, size)
        body = items_body([team_membership_json(st, m) for m in chunk])
        return json_response(body, headers=headers)


@members_bp.post("")
def create_team_membership() -> Response:
    """Add a person to a team and its General room (a moderator; 409 when already in)."""
    who = caller()
    who.require(WRITE)
    body = json_body()
    if not body.get("teamId"):
        raise WebexError(400, "teamId is required.")
    moderator = bool_field(body, "isModerator") or False
    st = state()
    with st.lock:
        team = _team(st, str(body["teamId"]), who.person)
        if not _moderates(st, who.person, team):
            raise WebexError(403, "Only a team moderator can add people to the team.")
        if body.get("personId"):
            person = st.person_by_id(str(body["personId"]))
        elif body.get("personEmail"):
            person = st.person_by_email(str(body["personEmail"]))
        else:
            raise WebexError(400, "personId or personEmail is required.")
        if person is None:
            raise WebexError(404, "Person not found.")
        if (person.uuid, team.uuid) in st.team_memberships:
            raise WebexError(409, "Person is already in the team.")
        _join(st, team, person, who.person, moderator)
        joined = st.team_memberships[(person.uuid, team.uuid)]
        return json_response(team_membership_json(st, joined))


def _visible(membership_id: str) -> TeamMembership:
    st = state()
    uid = st.lookup("TEAM_MEMBERSHIP", membership_id) or ""
    person_uuid, _, team_uuid = uid.partition(":")
    membership = st.team_memberships.get((person_uuid, team_uuid))
    if membership is None or (caller().person.uuid, team_uuid) not in st.team_memberships:
        raise WebexError(404, NO_MEMBERSHIP)
    return membership


def _moderators(st: EmulatorState, team_uuid: str) -> int:
    return sum(1 for (_, t), m in st.team_memberships.items() if t == team_uuid and m.is_moderator)


@members_bp.get("/<membership_id>")
def get_team_membership(membership_id: str) -> Response:
    """Return one team membership of a team the caller is in."""
    caller().require(READ)
    st = state()
    with st.lock:
        return json_response(team_membership_json(st, _visible(membership_id)))


@members_bp.put("/<membership_id>")
def update_team_membership(membership_id: str) -> Response:
    """Promote or demote a team member (a moderator; `isModerator` required)."""
    who = caller()
    who.require(WRITE)
    moderator = bool_field(json_body(), "isModerator")
    if moderator is None:
        raise WebexError(400, "isModerator is required.")
    st = state()
    with st.lock:
        membership = _visible(membership_id)
        team = st.teams[membership.team_uuid]
        if not _moderates(st, who.person, team):
            raise WebexError(403, "Only a team moderator can change moderators.")
        if membership.is_moderator and not moderator and _moderators(st, team.uuid) == 1:
            raise WebexError(409, "The last moderator of a team cannot be demoted.")
        membership.is_moderator = moderator
        return json_response(team_membership_json(st, membership))


@members_bp.delete("/<membership_id>")
def delete_team_membership(membership_id: str) -> Response:
    """Remove a person from a team and its General room (others: a moderator)."""
    who = caller()
    who.require(WRITE)
    st = state()
    with st.lock:
        membership = _visible(membership_id)
        team = st.teams[membership.team_uuid]
        if membership.person_uuid != who.person.uuid and not _moderates(st, who.person, team):
            raise WebexError(403, "Only a team moderator can remove others from the team.")
        if membership.is_moderator and _moderators(st, team.uuid) == 1:
            raise WebexError(
                409, "The last moderator of a team cannot leave: promote another member first."
            )
        del st.team_memberships[(membership.person_uuid, team.uuid)]
        room_membership = st.memberships.get((membership.person_uuid, team.general_room_uuid or ""))
        if room_membership is not None:
            remove_member(st, room_membership, who.person)
    return Response(status=204)
