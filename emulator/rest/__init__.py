"""The Webex REST resources under /v1/, one blueprint per resource."""

from __future__ import annotations

from tokenbot.emulator.rest.attachment_actions import bp as attachment_actions_bp
from tokenbot.emulator.rest.authorizations import bp as authorizations_bp
from tokenbot.emulator.rest.contents import bp as contents_bp
from tokenbot.emulator.rest.memberships import bp as memberships_bp
from tokenbot.emulator.rest.messages import bp as messages_bp
from tokenbot.emulator.rest.people import bp as people_bp
from tokenbot.emulator.rest.rooms import bp as rooms_bp
from tokenbot.emulator.rest.teams import members_bp as team_memberships_bp
from tokenbot.emulator.rest.teams import teams_bp
from tokenbot.emulator.rest.webhooks import bp as webhooks_bp

BLUEPRINTS = [
    people_bp,
    rooms_bp,
    memberships_bp,
    messages_bp,
    webhooks_bp,
    teams_bp,
    team_memberships_bp,
    authorizations_bp,
    contents_bp,
    attachment_actions_bp,
]

__all__ = ["BLUEPRINTS"]
