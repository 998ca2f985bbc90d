"""Webex's JSON shapes for the sandbox records."""

from __future__ import annotations

from typing import Any

from tokenbot.emulator.ids import iso
from tokenbot.emulator.ids import make_id
from tokenbot.emulator.model import Membership
from tokenbot.emulator.model import Message
from tokenbot.emulator.model import Person
from tokenbot.emulator.model import Room
from tokenbot.emulator.model import Team
from tokenbot.emulator.model import TeamMembership
from tokenbot.emulator.model import Webhook
from tokenbot.emulator.state import EmulatorState


def person_json(state: EmulatorState, person: Person) -> dict[str, Any]:
    """Return a Person."""
    body: dict[str, Any] = {
        "id": person.id,
        "emails": [person.email],
        "phoneNumbers": [],
        "displayName": person.display_name,
        "nickName": person.first_name,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "orgId": state.org_id,
        "created": iso(person.created),
        "lastModified": iso(person.created),
        "status": "active",
        "type": person.type,
    }
    if not person.first_name:
        del body["nickName"]
    return body


def room_json(state: EmulatorState, room: Room, viewer: Person | None) -> dict[str, Any]:
    """Return a Room as `viewer` sees it (a 1:1 room is titled with the other person)."""
    title = room.title
    if room.type == "direct" and viewer is not None:
        others = [p for p in state.room_members(room.uuid) if p.uuid != viewer.uuid]
        title = others[0].display_name if others else title
    body: dict[str, Any] = {
        "id": room.id,
        "title": title,
        "type": room.type,
        "isLocked": room.is_locked,
        "lastActivity": iso(room.last_activity),
        "creatorId": make_id("PEOPLE", room.creator_uuid),
        "created": iso(room.created),
        "ownerId": state.org_id,
        "isPublic": False,
        "isReadOnly": False,
    }
    if room.team_uuid:
        body["teamId"] = make_id("TEAM", room.team_uuid)
    if room.description:
        body["description"] = room.description
    return body


def membership_json(state: EmulatorState, membership: Membership) -> dict[str, Any]:
    """Return a Membership."""
    person = state.people[membership.person_uuid]
    room = state.rooms[membership.room_uuid]
    return {
        "id": membership.id,
        "roomId": room.id,
        "personId": person.id,
        "personEmail": person.email,
        "personDisplayName": person.display_name,
        "personOrgId": state.org_id,
        "isModerator": membership.is_moderator,
        "isRoomHidden": False,
        "roomType": room.type,
        "isMonitor": False,
        "created": iso(membership.created),
    }


def message_json(state: EmulatorState, message: Message, created: bool = False) -> dict[str, Any]:
    """Return a Message; optional fields are left out when empty, as Webex does.

    Only the answer to the create carries `toPersonId`/`toPersonEmail` (the spec's `Message`);
    reads answer the spec's `ListMessage`, which has neither.
    """
    room = state.rooms[message.room_uuid]
    author = state.people[message.person_uuid]
    body: dict[str, Any] = {"id": message.id}
    if message.parent_uuid:
        body["parentId"] = make_id("MESSAGE", message.parent_uuid, message.cluster)
    body["roomId"] = room.id
    body["roomType"] = room.type
    if created and message.to_person_uuid:
        target = state.people[message.to_person_uuid]
        body["toPersonId"] = target.id
        body["toPersonEmail"] = target.email
    for key, value in (
        ("text", message.text),
        ("markdown", message.markdown),
        ("html", message.html),
    ):
        if value is not None:
            body[key] = value
    if message.files:
        body["files"] = list(message.files)
    body["personId"] = author.id
    body["personEmail"] = author.email
    if message.mentioned:
        body["mentionedPeople"] = [make_id("PEOPLE", uid) for uid in message.mentioned]
    if message.mentioned_groups:
        body["mentionedGroups"] = list(message.mentioned_groups)
    if message.attachments:
        body["attachments"] = list(message.attachments)
    body["created"] = iso(message.created)
    if message.updated is not None:
        body["updated"] = iso(message.updated)
    body["isVoiceClip"] = False
    return body


def webhook_json(state: EmulatorState, webhook: Webhook) -> dict[str, Any]:
    """Return a Webhook (the secret is echoed back, as Webex does)."""
    integration = state.integrations.get(webhook.client_id)
    body: dict[str, Any] = {
        "id": webhook.id,
        "name": webhook.name,
        "targetUrl": webhook.target_url,
        "resource": webhook.resource,
        "event": webhook.event,
    }
    if webhook.filter:
        body["filter"] = webhook.filter
    if webhook.secret:
        body["secret"] = webhook.secret
    body.update(
        {
            "status": webhook.status,
            "created": iso(webhook.created),
            "ownedBy": "creator",
            "orgId": state.org_id,
            "createdBy": make_id("PEOPLE", webhook.owner_uuid),
            "appId": integration.app_id
            if integration
            else make_id("APPLICATION", webhook.client_id),
        }
    )
    return body


def team_json(team: Team) -> dict[str, Any]:
    """Return a Team."""
    body: dict[str, Any] = {"id": team.id, "name": team.name}
    if team.description:
        body["description"] = team.description
    body["created"] = iso(team.created)
    return body


def team_membership_json(state: EmulatorState, membership: TeamMembership) -> dict[str, Any]:
    """Return a TeamMembership."""
    person = state.people[membership.person_uuid]
    return {
        "id": membership.id,
        "teamId": make_id("TEAM", membership.team_uuid),
        "personId": person.id,
        "personEmail": person.email,
        "personDisplayName": person.display_name,
        "personOrgId": state.org_id,
        "isModerator": membership.is_moderator,
        "created": iso(membership.created),
    }
