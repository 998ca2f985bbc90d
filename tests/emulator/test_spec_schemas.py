"""Check the emulator's answers against the schemas of Webex's published OpenAPI spec.

The schemas are the vendored subset in tests/emulator/spec/ (CC BY 4.0, see NOTICE.md there).
They are applied strictly: a field the spec does not list fails the check, so a change that
adds, renames or mistypes a field is caught. The few fields real Webex sends beyond the spec
are allowed by name below, each with its reason. Every /v1 route the emulator serves must be
in the subset or in NOT_IN_SUBSET, so a new route cannot skip the check.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from tests.emulator.receiver import Receiver
from tests.plugins.emulator import EmulatorHandle
from tokenbot.emulator import SEED_CLIENT_ID
from tokenbot.emulator import EmulatorState
from tokenbot.emulator import create_app

SUBSET = Path(__file__).resolve().parent / "spec" / "webex-messaging-subset.json"
# Routes outside webex-messaging.json's resources: OAuth (documented in Webex's integration
# guide, checked by test_oauth.py) and /v1/authorizations (another module, another spec file).
# /contents has no operation in webex-messaging.json (at the vendored commit no spec file
# describes it; Webex documents it only in its attachments guide): the HEAD/GET headers and
# the scan answers are checked by tests/emulator/test_cards_files.py instead.
NOT_IN_SUBSET = (
    "/authorize",
    "/access_token",
    "/authorizations",
    "/contents",
)
# Success statuses where the emulator follows Webex's clients rather than the spec. The spec
# gives `POST /attachment/actions` 202 (its only 202 POST); webexpythonsdk's `create` accepts
# only 200 and its live test against Webex passes, so Webex answers 200 and so does the emulator.
STATUS = {"POST /attachment/actions": 200}
# Fields real Webex sends that the spec's schema for that operation does not list.
EXTRAS: dict[str, set[str]] = {
    # The create answers the same message object the reads do (html for markdown, parentId
    # for a reply, isVoiceClip): the spec's `Message` lists only what the request can carry.
    "POST /messages": {"html", "parentId", "isVoiceClip", "updated"},
    # /messages/direct lists the same message objects as /messages (`ListMessage`).
    "GET /messages/direct": {
        "html",
        "parentId",
        "isVoiceClip",
        "mentionedPeople",
        "mentionedGroups",
        "attachments",
        "updated",
    },
}
for _key in ("POST /webhooks", "GET /webhooks", "GET /webhooks/{webhookId}"):
    # Webex's webhook guide and every captured webhook show orgId, createdBy and appId.
    EXTRAS[_key] = {"orgId", "createdBy", "appId"}
EXTRAS["PUT /webhooks/{webhookId}"] = EXTRAS["POST /webhooks"]
# The spec types a message's `attachments` as its enterprise-content file object; a card
# attachment (what the emulator echoes) is `{contentType, content}` with the spec's
# `AdaptiveCard` as content (required type and version; a card's own elements stay open).
CARD_ATTACHMENTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["contentType", "content"],
        "properties": {
            "contentType": {"type": "string", "enum": ["application/vnd.microsoft.card.adaptive"]},
            "content": {
                "type": "object",
                "required": ["type", "version"],
                "properties": {"type": {"type": "string"}, "version": {"type": "string"}},
                "additionalProperties": True,
            },
        },
    },
}


@cache
def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = json.loads(SUBSET.read_text(encoding="utf-8"))["operations"]
    return operations


def _strict(schema: Any) -> Any:
    """Return `schema` where every object with listed properties accepts no others."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _record(schema: dict[str, Any]) -> dict[str, Any]:
    """Return the object schema of one record: the schema itself or its `items` element."""
    items = schema.get("properties", {}).get("items")
    if items and items.get("type") == "array":
        record: dict[str, Any] = items["items"]
        return record
    return schema


def validator_for(key: str) -> OAS30Validator:
    """Return a strict validator for the success answer of operation `key`."""
    schema = copy.deepcopy(_operations()[key]["schema"])
    record = _record(schema)
    for name in EXTRAS.get(key, ()):
        record.setdefault("properties", {})[name] = {}
    strict = _strict(schema)
    record = _record(strict)
    if "attachments" in record.get("properties", {}):
        record["properties"]["attachments"] = CARD_ATTACHMENTS
    if key.split(" ", 1)[1].startswith("/attachment/actions"):
        # The spec's `inputs` lists its example card's fields (Name, Url, Email, Tel); a submit's
        # inputs are whatever ids the card's inputs have.
        record["properties"]["inputs"] = {"type": "object"}
    return OAS30Validator(strict)


class Recorder:
    """Make REST calls as a sandbox person and check each answer against its operation."""

    def __init__(self, emu: EmulatorHandle, email: str) -> None:
        token = emu.mint_token(SEED_CLIENT_ID, email, ["spark:all"])["access_token"]
        self.base = emu.api_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.checked: set[str] = set()

    def call(self, key: str, path: str, body: Any = None, **params: Any) -> Any:
        method = key.split(" ", 1)[0]
        response = requests.request(
            method,
            self.base + path,
            data=None if body is None else json.dumps(body),
            params=params,
            headers=self.headers,
            timeout=10,
        )
        operation = _operations()[key]
        assert response.status_code == STATUS.get(key, operation["status"]), (key, response.text)
        self.checked.add(key)
        if operation["schema"] is None:
            return None
        answer = response.json()
        errors = sorted(validator_for(key).iter_errors(answer), key=lambda e: list(e.path))
        assert not errors, f"{key}: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors
        )
        return answer


def test_every_route_is_checked_against_the_spec() -> None:
    app = create_app(EmulatorState(seed=None))
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = re.sub(r"<[^>]+>", "{}", rule.rule.removeprefix("/v1"))
        if path.startswith(NOT_IN_SUBSET):
            continue
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                served.add(f"{method} {path}")
    in_spec = {re.sub(r"\{[^}]+\}", "{}", key) for key in _operations()}
    assert served <= in_spec, sorted(served - in_spec)


def test_answers_match_the_spec_schemas(emulator: EmulatorHandle) -> None:
    alice = Recorder(emulator, "alice@example.com")
    me = alice.call("GET /people/me", "/people/me")
    alice.call("GET /people/{personId}", f"/people/{me['id']}")
    alice.call("GET /people", "/people", email="bob@example.com")
    alice.call("GET /people", "/people", id=me["id"])
    room = alice.call("POST /rooms", "/rooms", {"title": "Spec", "description": "d"})
    alice.call("GET /rooms/{roomId}", f"/rooms/{room['id']}")
    alice.call("PUT /rooms/{roomId}", f"/rooms/{room['id']}", {"title": "Spec 2", "isLocked": True})
    alice.call("GET /rooms", "/rooms", max=2)
    alice.call("GET /rooms", "/rooms", type="direct")
    member = alice.call(
        "POST /memberships",
        "/memberships",
        {"roomId": room["id"], "personEmail": "bob@example.com", "isModerator": False},
    )
    alice.call("GET /memberships", "/memberships", roomId=room["id"])
    alice.call("GET /memberships", "/memberships")
    alice.call("GET /memberships/{membershipId}", f"/memberships/{member['id']}")
    alice.call(
        "PUT /memberships/{membershipId}",
        f"/memberships/{member['id']}",
        {"isModerator": True, "isRoomHidden": False},
    )
    plain = alice.call("POST /messages", "/messages", {"roomId": room["id"], "text": "plain"})
    rich = alice.call(
        "POST /messages",
        "/messages",
        {
            "roomId": room["id"],
            "markdown": "**hi** <@personEmail:bob@example.com|Bob> <@all>",
            "parentId": plain["id"],
        },
    )
    card = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "version": "1.2", "body": []},
    }
    carded = alice.call(
        "POST /messages", "/messages", {"roomId": room["id"], "text": "c", "attachments": [card]}
    )
    submit = {"type": "submit", "messageId": carded["id"], "inputs": {"Name": "A", "pick": "2"}}
    pressed = alice.call("POST /attachment/actions", "/attachment/actions", submit)
    alice.call("GET /attachment/actions/{id}", f"/attachment/actions/{pressed['id']}")
    alice.call(
        "POST /messages",
        "/messages",
        {"roomId": room["id"], "text": "f", "files": ["https://example.com/f.png"]},
    )
    direct = alice.call(
        "POST /messages", "/messages", {"toPersonEmail": "dave@example.com", "text": "dm"}
    )
    alice.call("GET /messages", "/messages", roomId=room["id"])
    alice.call("GET /messages", "/messages", roomId=room["id"], parentId=plain["id"])
    alice.call("GET /messages/direct", "/messages/direct", personEmail="dave@example.com")
    alice.call("GET /messages/{messageId}", f"/messages/{rich['id']}")
    alice.call("GET /messages/{messageId}", f"/messages/{direct['id']}")
    alice.call(
        "PUT /messages/{messageId}",
        f"/messages/{plain['id']}",
        {"roomId": room["id"], "markdown": "_edited_"},
    )
    alice.call("DELETE /messages/{messageId}", f"/messages/{plain['id']}")
    with Receiver() as receiver:
        hook = alice.call(
            "POST /webhooks",
            "/webhooks",
            {
                "name": "spec",
                "targetUrl": receiver.url,
                "resource": "messages",
                "event": "created",
                "filter": f"roomId={room['id']}",
                "secret": "s",
            },
        )
        alice.call("GET /webhooks", "/webhooks")
        alice.call("GET /webhooks/{webhookId}", f"/webhooks/{hook['id']}")
        alice.call(
            "PUT /webhooks/{webhookId}",
            f"/webhooks/{hook['id']}",
            {"name": "spec 2", "targetUrl": receiver.url, "status": "active"},
        )
        alice.call("DELETE /webhooks/{webhookId}", f"/webhooks/{hook['id']}")
    team = alice.call("POST /teams", "/teams", {"name": "Squad", "description": "d"})
    alice.call("GET /teams", "/teams")
    alice.call("GET /teams/{teamId}", f"/teams/{team['id']}")
    alice.call("PUT /teams/{teamId}", f"/teams/{team['id']}", {"name": "Squad 2"})
    alice.call("GET /rooms", "/rooms", teamId=team["id"])
    joined = alice.call(
        "POST /team/memberships",
        "/team/memberships",
        {"teamId": team["id"], "personEmail": "carol@example.com"},
    )
    alice.call("GET /team/memberships", "/team/memberships", teamId=team["id"])
    alice.call("GET /team/memberships/{membershipId}", f"/team/memberships/{joined['id']}")
    alice.call(
        "PUT /team/memberships/{membershipId}",
        f"/team/memberships/{joined['id']}",
        {"isModerator": True},
    )
    alice.call("DELETE /team/memberships/{membershipId}", f"/team/memberships/{joined['id']}")
    alice.call("DELETE /teams/{teamId}", f"/teams/{team['id']}")
    alice.call("DELETE /memberships/{membershipId}", f"/memberships/{member['id']}")
    alice.call("DELETE /rooms/{roomId}", f"/rooms/{room['id']}")
    assert alice.checked == set(_operations()), sorted(set(_operations()) - alice.checked)


@pytest.mark.parametrize("field", ["toPersonEmail", "surprise"])
def test_the_check_catches_a_field_the_spec_does_not_have(field: str) -> None:
    answer = {"id": "x", "roomId": "r", "text": "t", field: "value"}
    assert list(validator_for("GET /messages/{messageId}").iter_errors(answer))


def test_the_check_catches_a_wrong_type() -> None:
    room = {"id": "x", "title": "t", "type": "group", "isLocked": "no"}
    assert list(validator_for("GET /rooms/{roomId}").iter_errors(room))
