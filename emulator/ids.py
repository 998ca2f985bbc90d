"""Webex-shaped identifiers, tokens and timestamps."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC
from datetime import datetime

# A fixed namespace so sandbox ids are the same at every start and after every reset.
_NAMESPACE = uuid.UUID("6f1c2d4e-8a0b-4c3d-9e5f-1a2b3c4d5e6f")


def make_id(kind: str, uid: str, cluster: str = "us") -> str:
    """Return the Webex id for `ciscospark://<cluster>/KIND/uid` (unpadded base64url)."""
    raw = f"ciscospark://{cluster}/{kind}/{uid}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_id(value: str) -> tuple[str, str] | None:
    """Return (kind, uid) of a Webex id, or None when it is not one."""
    parsed = parse_id_cluster(value)
    return None if parsed is None else (parsed[1], parsed[2])


def parse_id_cluster(value: str) -> tuple[str, str, str] | None:
    """Return (cluster, kind, uid) of a Webex id, or None when it is not one."""
    try:
        padded = value + "=" * (-len(value) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        return None
    parts = raw.split("/")
    if len(parts) != 5 or parts[0] != "ciscospark:" or parts[1] != "":
        return None
    return parts[2], parts[3], parts[4]


def stable_uuid(*parts: str) -> str:
    """Return a UUID derived from `parts`, stable across runs."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def new_uuid() -> str:
    """Return a random UUID string."""
    return str(uuid.uuid4())


def opaque_token(org_uuid: str, cluster: str = "P0A1") -> str:
    """Return a token shaped like Webex's: `<64 base64 chars>_<cluster>_<org uuid>`."""
    body = f"{uuid.uuid4()}{secrets.token_hex(6)}".encode()
    encoded = base64.b64encode(body).decode("ascii").replace("+", "A").replace("/", "B")
    return f"{encoded}_{cluster}_{org_uuid}"


def tracking_id() -> str:
    """Return a fresh tracking id (Webex uses prefixes like ROUTER_ and NA_)."""
    return "EMU_" + str(uuid.uuid4()).upper()


def iso(moment: datetime) -> str:
    """Format a time the way Webex does: `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime | None:
    """Parse an ISO 8601 time leniently (a `+` may arrive as a space); None if invalid."""
    text = value.strip().replace(" ", "+")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
