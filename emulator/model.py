"""The sandbox's records; ids are stored as bare UUIDs and rendered as Webex ids."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from tokenbot.emulator.ids import make_id


@dataclass
class Person:
    """A sandbox person (or bot)."""

    uuid: str
    email: str
    display_name: str
    first_name: str
    last_name: str
    type: str
    created: datetime

    @property
    def id(self) -> str:
        """Return the Webex person id."""
        return make_id("PEOPLE", self.uuid)


@dataclass
class Room:
    """A space: `group` or `direct`."""

    uuid: str
    title: str
    type: str
    creator_uuid: str
    created: datetime
    last_activity: datetime
    is_locked: bool = False
    description: str | None = None
    team_uuid: str | None = None
    # Where the conversation is homed ("us", or a catalog id such as urn:TEAM:eu-central-1_k).
    cluster: str = "us"

    @property
    def id(self) -> str:
        """Return the Webex room id (its cluster inside)."""
        return make_id("ROOM", self.uuid, self.cluster)


@dataclass
class Team:
    """A team: a named group of people with a General room and any rooms added to it."""

    uuid: str
    name: str
    creator_uuid: str
    created: datetime
    description: str | None = None
    general_room_uuid: str | None = None

    @property
    def id(self) -> str:
        """Return the Webex team id."""
        return make_id("TEAM", self.uuid)


@dataclass
class TeamMembership:
    """A person's membership of a team."""

    person_uuid: str
    team_uuid: str
    is_moderator: bool
    created: datetime

    @property
    def id(self) -> str:
        """Return the Webex team membership id (`<personUuid>:<teamUuid>`)."""
        return make_id("TEAM_MEMBERSHIP", f"{self.person_uuid}:{self.team_uuid}")


@dataclass
class Membership:
    """A person's membership of a room."""

    person_uuid: str
    room_uuid: str
    is_moderator: bool
    created: datetime

    @property
    def id(self) -> str:
        """Return the Webex membership id (`<personUuid>:<roomUuid>`)."""
        return make_id("MEMBERSHIP", f"{self.person_uuid}:{self.room_uuid}")


@dataclass
class Message:
    """A message; `seq` orders messages strictly even when timestamps tie."""

    uuid: str
    seq: int
    room_uuid: str
    person_uuid: str
    created: datetime
    text: str | None = None
    markdown: str | None = None
    html: str | None = None
    parent_uuid: str | None = None
    to_person_uuid: str | None = None
    mentioned: list[str] = field(default_factory=list)
    mentioned_groups: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    attachments: list[Any] = field(default_factory=list)
    updated: datetime | None = None
    edits: int = 0
    cluster: str = "us"

    @property
    def id(self) -> str:
        """Return the Webex message id (the cluster of its room inside)."""
        return make_id("MESSAGE", self.uuid, self.cluster)


@dataclass
class Webhook:
    """A webhook, owned by the person whose token created it, through one integration."""

    uuid: str
    name: str
    target_url: str
    resource: str
    event: str
    filter: str | None
    secret: str | None
    owner_uuid: str
    client_id: str
    created: datetime
    status: str = "active"
    failures: deque[datetime] = field(default_factory=deque)
    failure_total: int = 0
    success_total: int = 0
    disabled_at: datetime | None = None
    reactivated_at: datetime | None = None

    @property
    def id(self) -> str:
        """Return the Webex webhook id."""
        return make_id("WEBHOOK", self.uuid)


@dataclass
class Integration:
    """A registered OAuth integration."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    scopes: list[str]
    name: str = "Sandbox integration"

    @property
    def app_id(self) -> str:
        """Return the Webex application id of the integration."""
        return make_id("APPLICATION", self.client_id)


@dataclass
class Grant:
    """What one code exchange (or a mint) gave one person for one integration."""

    uuid: str
    client_id: str
    person_uuid: str
    scopes: list[str]
    created: datetime
    revoked: bool = False


@dataclass
class AccessToken:
    """An issued access token."""

    grant_uuid: str
    expires_at: datetime


@dataclass
class RefreshToken:
    """An issued refresh token; `valid` turns false when rotated away."""

    grant_uuid: str
    expires_at: datetime
    valid: bool = True


@dataclass
class AuthCode:
    """An authorization code waiting for its exchange."""

    client_id: str
    redirect_uri: str
    person_uuid: str
    scopes: list[str]
    challenge: str | None
    challenge_method: str | None
    expires_at: datetime
    used: bool = False
    grant_uuid: str | None = None


@dataclass
class Consent:
    """A validated /v1/authorize request waiting for the person's decision."""

    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    challenge: str | None
    challenge_method: str | None
    created: datetime
