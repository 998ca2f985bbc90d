"""Pending "Connect Webex" logins: single-use, short-lived, bound to one browser (R-01, R-02).

Only sha256(state) is stored, never the state; the PKCE verifier is stored encrypted and wiped
when the login is consumed. Consuming is a conditional UPDATE on `used_at IS NULL`, so of two
callbacks racing with the same state exactly one wins.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult

from tokenbot.core.clock import Clock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.errors import LoginStateInvalid
from tokenbot.core.hashing import sha256_hex
from tokenbot.core.models import OAuthLogin

__all__ = ["OAuthLoginStore", "state_hash", "verifier_context"]

STATE_BYTES = 32


def state_hash(state: str) -> str:
    """Return the hex sha256 under which a state is stored."""
    return sha256_hex(state)


def verifier_context(hashed_state: str) -> str:
    """Return the associated data that binds a verifier ciphertext to its login row."""
    return f"oauth_logins/{hashed_state}/verifier"


class OAuthLoginStore:
    """Create and consume pending OAuth logins."""

    def __init__(self, db: Database, cipher: TokenCipher, *, clock: Clock) -> None:
        self.db = db
        self.cipher = cipher
        self.clock = clock

    def begin(self, *, session_binding: str, verifier: str) -> str:
        """Store a pending login for this browser and return its fresh random `state`.

        Args:
            session_binding: An opaque per-browser value from the panel (only its hash is
                stored); the callback must present the same one.
            verifier: The PKCE code verifier of this login.
        """
        if not session_binding or not verifier:
            raise ValueError("begin_login needs a session binding and a verifier")
        state = secrets.token_urlsafe(STATE_BYTES)
        hashed = state_hash(state)
        with self.db.write() as session:
            session.add(
                OAuthLogin(
                    state_hash=hashed,
                    verifier_enc=self.cipher.encrypt(verifier, context=verifier_context(hashed)),
                    session_binding=_binding_hash(session_binding),
                    created_at=self.clock.now(),
                )
            )
        return state

    def consume(self, state: str, *, session_binding: str, max_age_seconds: float = 600) -> str:
        """Mark the login of `state` used and return its PKCE verifier, exactly once.

        Raises:
            LoginStateInvalid: "missing" (no state), "unknown" (never issued or purged),
                "foreign" (another browser's), "replayed" (already used), "expired" (older
                than `max_age_seconds`).
        """
        if not state:
            raise LoginStateInvalid("missing")
        hashed = state_hash(state)
        now = self.clock.now()
        with self.db.write() as session:
            login = session.execute(
                sa.select(OAuthLogin).where(OAuthLogin.state_hash == hashed)
            ).scalar_one_or_none()
            if login is None:
                raise LoginStateInvalid("unknown")
            if not hmac.compare_digest(login.session_binding, _binding_hash(session_binding)):
                raise LoginStateInvalid("foreign")
            if login.used_at is not None or login.verifier_enc is None:
                raise LoginStateInvalid("replayed")
            if now - login.created_at > timedelta(seconds=max_age_seconds):
                raise LoginStateInvalid("expired")
            verifier = self.cipher.decrypt(login.verifier_enc, context=verifier_context(hashed))
            result = cast(
                CursorResult[Any],
                session.execute(
                    sa.update(OAuthLogin)
                    .where(OAuthLogin.id == login.id, OAuthLogin.used_at.is_(None))
                    .values(used_at=now, verifier_enc=None),
                    execution_options={"synchronize_session": False},
                ),
            )
            if result.rowcount != 1:
                # Another request used it between our read and our write.
                raise LoginStateInvalid("replayed")
            return verifier

    def purge(self, older_than: datetime) -> int:
        """Delete logins created before `older_than`; return how many went."""
        with self.db.write() as session:
            result = cast(
                CursorResult[Any],
                session.execute(
                    sa.delete(OAuthLogin).where(OAuthLogin.created_at < older_than),
                    execution_options={"synchronize_session": False},
                ),
            )
            return int(result.rowcount)


def _binding_hash(session_binding: str) -> str:
    return sha256_hex(session_binding)
