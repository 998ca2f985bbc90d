"""What no response may contain: a server error, a traceback, or any secret value.

The secrets are the deployment's (client secret, session key, encryption keys, webhook secret)
and every token stored in the database, read back by decrypting the rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from werkzeug.test import TestResponse

from tokenbot.core.models import Account
from tokenbot.core.rows import token_context
from tokenbot.core.runtime import Runtime

# Short values would match by chance (a "0" in a page is not a leak); every real secret is long.
MIN_SECRET_LENGTH = 16


def stored_tokens(runtime: Runtime) -> set[str]:
    """Return every access and refresh token in the database, decrypted."""
    found: set[str] = set()
    with runtime.database.read() as session:
        rows = session.execute(
            sa.select(Account.person_id, Account.access_token_enc, Account.refresh_token_enc)
        ).all()
    for person_id, access, refresh in rows:
        for column, value in (("access_token", access), ("refresh_token", refresh)):
            if value:
                found.add(runtime.cipher.decrypt(value, context=token_context(person_id, column)))
    return found


def key_material(spec: str) -> set[str]:
    """Return the secret parts of a `TOKENBOT_ENCRYPTION_KEYS` value (the keys, not their ids)."""
    return {entry.split(":", 1)[1] for entry in spec.split(",") if ":" in entry}


def assert_clean(
    response: TestResponse, secrets: Iterable[str], *, allowed_5xx: frozenset[int] = frozenset()
) -> None:
    """Fail on a 5xx (other than `allowed_5xx`), a traceback, or a secret in the response."""
    body = response.get_data(as_text=True)
    assert response.status_code < 500 or response.status_code in allowed_5xx, (
        response.status_code,
        body[:2000],
    )
    assert "Traceback" not in body, body[:2000]
    headers = str(response.headers)
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            assert secret not in body, f"a secret ({len(secret)} chars) is in the body"
            assert secret not in headers, f"a secret ({len(secret)} chars) is in a header"
