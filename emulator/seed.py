"""The sandbox the emulator starts with: built-in defaults, overridable by a seed file."""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import yaml

SEED_CLIENT_ID = "C" + hashlib.sha256(b"webex-tokenbot emulator seed integration").hexdigest()

MESSAGING_SCOPES = [
    "spark:all",
    "spark:kms",
    "spark:people_read",
    "spark:rooms_read",
    "spark:rooms_write",
    "spark:memberships_read",
    "spark:memberships_write",
    "spark:messages_read",
    "spark:messages_write",
]

DEFAULT_SEED: dict[str, Any] = {
    "org": {"name": "Sandbox Org"},
    "people": [
        {"email": "alice@example.com", "displayName": "Alice Andersen"},
        {"email": "bob@example.com", "displayName": "Bob Baker"},
        {"email": "carol@example.com", "displayName": "Carol Chen"},
        {"email": "dave@example.com", "displayName": "Dave Diaz"},
    ],
    "spaces": [
        {
            "title": "Team Space",
            "type": "group",
            "members": ["alice@example.com", "bob@example.com", "carol@example.com"],
        },
        {
            "title": "Project X",
            "type": "group",
            "members": ["alice@example.com", "bob@example.com", "dave@example.com"],
        },
        {"type": "direct", "members": ["alice@example.com", "bob@example.com"]},
        {"type": "direct", "members": ["bob@example.com", "carol@example.com"]},
    ],
    "integrations": [
        {
            "name": "tokenbot sandbox integration",
            "client_id": SEED_CLIENT_ID,
            "redirect_uris": [
                "http://127.0.0.1:2000/oauth/callback",
                "http://127.0.0.1:2000/redirect.html",
            ],
            "scopes": MESSAGING_SCOPES,
        }
    ],
    "settings": {},
}

_SECTIONS = set(DEFAULT_SEED)


class SeedError(ValueError):
    """The seed file is unreadable or malformed."""


def load_seed(source: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    """Return a complete seed: the defaults with the sections `source` gives replaced.

    Every integration without a `client_secret` gets a random one here, once, so that a
    reset returns to the same secret for the life of the process.
    """
    given: dict[str, Any]
    if source is None:
        given = {}
    elif isinstance(source, dict):
        given = copy.deepcopy(source)
    else:
        given = _read_file(Path(source))
    unknown = set(given) - _SECTIONS
    if unknown:
        raise SeedError(f"unknown seed sections: {sorted(unknown)}; known: {sorted(_SECTIONS)}")
    seed = copy.deepcopy(DEFAULT_SEED)
    seed.update(given)
    _validate(seed)
    for integration in seed["integrations"]:
        integration.setdefault("client_secret", secrets.token_hex(32))
    return seed


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SeedError(f"seed file {path} is not valid JSON/YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedError(f"seed file {path} must hold a mapping at the top")
    return data


def _validate(seed: dict[str, Any]) -> None:
    emails = set()
    for person in seed["people"]:
        if not isinstance(person, dict) or "email" not in person or "displayName" not in person:
            raise SeedError(f"each person needs email and displayName: {person!r}")
        if person.get("type", "person") not in ("person", "bot", "appuser"):
            raise SeedError(f"person type must be person, bot or appuser: {person!r}")
        emails.add(person["email"].lower())
    for space in seed["spaces"]:
        kind = space.get("type", "group")
        members = space.get("members", [])
        if kind not in ("group", "direct"):
            raise SeedError(f"space type must be group or direct: {space!r}")
        if kind == "group" and not space.get("title"):
            raise SeedError(f"a group space needs a title: {space!r}")
        if kind == "direct" and len(members) != 2:
            raise SeedError(f"a direct space has exactly two members: {space!r}")
        for email in members:
            if email.lower() not in emails:
                raise SeedError(f"space member {email!r} is not a seed person")
    for integration in seed["integrations"]:
        for key in ("client_id", "redirect_uris", "scopes"):
            if key not in integration:
                raise SeedError(f"an integration needs {key}: {integration!r}")
    if not isinstance(seed.get("settings") or {}, dict):
        raise SeedError("settings must be a mapping")
