"""Who is calling: bearer token, scopes and the per-token rate limit."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask import current_app
from flask import g
from flask import request

from tokenbot.emulator.calls import note_call
from tokenbot.emulator.errors import INVALID_TOKEN
from tokenbot.emulator.errors import WebexError
from tokenbot.emulator.model import Grant
from tokenbot.emulator.model import Person
from tokenbot.emulator.state import EmulatorState
from tokenbot.emulator.tokens import resolve_access_token


@dataclass
class Caller:
    """The person behind the request's access token, and the grant it came from."""

    person: Person
    grant: Grant
    token: str

    def require(self, *scopes: str) -> None:
        """Raise 403 unless the grant holds every scope (spark:all covers spark:*)."""
        for scope in scopes:
            if scope in self.grant.scopes:
                continue
            if scope.startswith("spark:") and "spark:all" in self.grant.scopes:
                continue
            raise WebexError(403, f"Missing required scope: {scope}")


def state() -> EmulatorState:
    """Return the emulator state of the running app."""
    emulator_state: EmulatorState = current_app.extensions["webex_emulator"]
    return emulator_state


def caller() -> Caller:
    """Return the authenticated caller of this request."""
    found: Caller = g.caller
    return found


def guard(bp: Blueprint) -> None:
    """Make every route of `bp` authenticate and rate-limit first."""
    bp.before_request(_authenticate)


def _authenticate() -> None:
    st = state()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    found = resolve_access_token(st, token) if scheme.lower() == "bearer" and token else None
    if found is None:
        raise WebexError(401, INVALID_TOKEN)
    grant, person = found
    g.caller = Caller(person=person, grant=grant, token=token)
    note_call(email=person.email, client_id=grant.client_id)
    limit = st.settings.rate_limit_per_minute
    if limit:
        wait = st.rate_limiter.check(
            token, limit, st.settings.rate_limit_window_seconds, st.clock.now()
        )
        if wait is not None:
            raise RateLimited(wait)


class RateLimited(WebexError):
    """429 from the rate limiter (rendered as text/html or JSON per settings)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "Too many requests have been sent in a given amount of time.",
            {"Retry-After": str(retry_after)},
        )
