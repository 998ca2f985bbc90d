"""Plain values that pass between the OAuth client and the token store.

The client turns Webex's answers into these; the store persists them. Neither speaks the
other's language (docs/architecture.md, "Seams"). Token strings never appear in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

__all__ = ["UNKNOWN_LIFETIME", "Identity", "TokenSet"]

# What the history adds when Webex's token answer carried no expires_in.
UNKNOWN_LIFETIME = (
    " · Webex gave no expires_in: lifetime unknown, refreshed on the keep-alive schedule "
    "and after a 401"
)


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a successful call to the token endpoint returned.

    `refresh_token` is None when Webex sent none back: the old one stays in force (RFC 6749 §6).
    Lifetimes are seconds as Webex reported them; expiry instants are computed by the store from
    the time the request was *sent*. `expires_in` is None when the answer had none (RFC 6749
    §5.1 makes it optional): the lifetime is unknown, and the store assumes one keep-alive
    period (`RefreshPolicy.access_expires_at`), so the token is refreshed on that schedule and
    after a 401.
    """

    access_token: str = field(repr=False)
    expires_in: int | None
    refresh_token: str | None = field(default=None, repr=False)
    refresh_token_expires_in: int | None = None
    token_type: str = "Bearer"


@dataclass(frozen=True, slots=True)
class Identity:
    """The Webex person behind a grant, as `/v1/people/me` describes them."""

    person_id: str
    email: str
    display_name: str
    org_id: str | None = None
