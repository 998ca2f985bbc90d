"""Disconnect an account: revoke its grant at Webex where the API allows, wipe it, leave no trace.

First the `TokenStore.before_disconnect` hooks run (the bot deletes our webhook of the account
at Webex: only the account's own token can, so before anything revokes or wipes it). Webex lets
an integration revoke a grant only through the admin API (`DELETE
/v1/authorizations/{id}`, scope `identity:tokens_write`, an org admin's). So: when the account's
grant holds that scope, its authorizations for this integration are revoked at Webex first;
otherwise (the usual case) the grant stays valid at Webex until the person removes the
integration from their Webex account themselves, which the panel and the CLI say. Then the
tokens are wiped and, on SQLite, the WAL is checkpointed so the wiped ciphertext is gone from
the files too (`PRAGMA secure_delete` zeroes freed space).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tokenbot.core.db import Database
from tokenbot.core.errors import TokenbotError
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.records import AccountView
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService

__all__ = ["REVOKE_SCOPE", "STILL_VALID_AT_WEBEX", "Disconnected", "disconnect_account"]

log = logging.getLogger(__name__)

REVOKE_SCOPE = "identity:tokens_write"
STILL_VALID_AT_WEBEX = (
    "The grant stays valid at Webex until its owner removes this integration from their Webex "
    "account: tokenbot cannot revoke it without the admin scope identity:tokens_write."
)


@dataclass(frozen=True, slots=True)
class Disconnected:
    """What a disconnect did.

    Attributes:
        view: The account, now disconnected.
        revoked: Authorizations revoked at Webex; None when the grant lacks `REVOKE_SCOPE`.
        problem: Why revoking at Webex failed (the tokens are wiped anyway), or None.
    """

    view: AccountView
    revoked: int | None
    problem: str | None = None

    @property
    def revoked_at_webex(self) -> bool:
        """Tell whether Webex confirmed the revocation."""
        return self.revoked is not None and self.problem is None

    def summary(self) -> str:
        """Return one sentence for the operator about the grant at Webex."""
        if self.revoked_at_webex:
            return "The grant was revoked at Webex too."
        if self.problem is not None:
            return f"Revoking the grant at Webex failed ({self.problem}). " + STILL_VALID_AT_WEBEX
        return STILL_VALID_AT_WEBEX


def disconnect_account(
    account_id: int,
    *,
    store: TokenStore,
    tokens: TokenService,
    oauth: WebexOAuthClient,
    database: Database,
) -> Disconnected:
    """Revoke (when possible), wipe and checkpoint; see the module docstring.

    Raises:
        AccountNotFound: No account has this id.
    """
    # Our webhooks first (`TokenStore.before_disconnect`): they need a token that still works.
    before = store.run_before_disconnect(account_id)
    revoked: int | None = None
    problem: str | None = None
    if REVOKE_SCOPE in before.scopes:
        try:
            token = tokens.access_token(account_id)
            revoked = oauth.revoke_grant(token, person_id=before.person_id)
        except TokenbotError as exc:
            problem = exc.code
            log.warning("revoking the grant at Webex failed: %s", exc.code)
    view = store.disconnect(account_id, hooks=False)
    tokens.forget(account_id)
    database.checkpoint()
    return Disconnected(view=view, revoked=revoked, problem=problem)
