"""Re-encrypt stored token material under the primary key, batch by batch (R-19).

Run after putting a new key first in `TOKENBOT_ENCRYPTION_KEYS`; afterwards the old key can
be dropped. Each batch is one write transaction, so a crash midway leaves every value readable
(under the old or the new key) and a rerun picks up the rest. Plaintexts do not change, so the
rows' versions stay as they are and refresh claims in flight remain valid.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.clock import Clock
from core.crypto import TokenCipher
from core.db import Database
from core.models import Account
from core.models import EventKind
from core.models import OAuthLogin
from core.models import TokenEvent

__all__ = ["rotate_keys"]

_ACCOUNT_COLUMNS = ("access_token", "refresh_token")


def rotate_keys(
    db: Database, cipher: TokenCipher, *, clock: Clock, owner: str, batch_size: int = 200
) -> int:
    """Re-encrypt every account token and login verifier not under the primary key.

    Records one `keys_rotated` event per account touched. Returns how many values changed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    changed = 0
    for model in (Account, OAuthLogin):
        last_id = 0
        while True:
            with db.write() as session:
                rows = _batch(session, model, last_id, batch_size)
                for row in rows:
                    changed += _rotate_row(session, cipher, row, clock=clock, owner=owner)
            if len(rows) < batch_size:
                break
            last_id = rows[-1].id
    return changed


def _batch(session: Session, model: Any, last_id: int, batch_size: int) -> list[Any]:
    query = (
        sa.select(model)
        .where(model.id > last_id)
        .order_by(model.id)
        .limit(batch_size)
        .with_for_update()
    )
    return list(session.execute(query).scalars())


def _rotate_row(
    session: Session, cipher: TokenCipher, row: Account | OAuthLogin, *, clock: Clock, owner: str
) -> int:
    if isinstance(row, OAuthLogin):
        if row.verifier_enc is None or not cipher.needs_rotation(row.verifier_enc):
            return 0
        context = f"oauth_logins/{row.state_hash}/verifier"
        row.verifier_enc = cipher.reencrypt(row.verifier_enc, context=context)
        return 1
    count = 0
    for column in _ACCOUNT_COLUMNS:
        value = getattr(row, f"{column}_enc")
        if value is not None and cipher.needs_rotation(value):
            context = f"accounts/{row.person_id}/{column}"
            setattr(row, f"{column}_enc", cipher.reencrypt(value, context=context))
            count += 1
    if count:
        now = clock.now()
        row.updated_at = now
        session.add(
            TokenEvent(
                account_id=row.id,
                kind=EventKind.KEYS_ROTATED,
                at=now,
                detail=f"{count} token value(s) re-encrypted under key {cipher.primary_key_id}",
                owner=owner,
            )
        )
    return count
