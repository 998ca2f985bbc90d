"""Payload factories for the store tests: identities and token sets with unique canaries."""

from __future__ import annotations

import itertools
import secrets

from tokenbot.core.tokens import Identity
from tokenbot.core.tokens import TokenSet

_numbers = itertools.count(1)

HOUR = 3600
DAY = 24 * HOUR


def identity(name: str | None = None) -> Identity:
    """Return a Webex person with a unique id."""
    n = next(_numbers)
    name = name or f"user{n}"
    return Identity(
        person_id=f"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9{name}",
        email=f"{name}@example.com",
        display_name=name.title(),
        org_id="Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vcmc",
    )


def canary(kind: str) -> str:
    """Return a token-shaped, unique, greppable value."""
    return f"CANARY{kind}{secrets.token_hex(12)}"


def tokens(
    *,
    access: str | None = None,
    refresh: str | None = "new",
    expires_in: int = 14 * DAY,
    refresh_expires_in: int | None = 90 * DAY,
) -> TokenSet:
    """Return a token response; `refresh=None` means Webex sent no refresh token."""
    return TokenSet(
        access_token=access or canary("AT"),
        expires_in=expires_in,
        refresh_token=canary("RT") if refresh == "new" else refresh,
        refresh_token_expires_in=refresh_expires_in,
    )
