"""Key management of stored token material: check the keys at start, rotate them (R-19).

`verify_keys` runs when a process starts: every key id found in the database must be in
`TOKENBOT_ENCRYPTION_KEYS` and must really open one of its values, so a wrong or missing key
stops the process with one clear line instead of failing every refresh later, silently.

`rotate_keys` re-encrypts under the primary key, batch by batch. Run it after putting a new key
first in `TOKENBOT_ENCRYPTION_KEYS`; afterwards the old key can be dropped. Each batch is one
write transaction, so a crash midway leaves every value readable (under the old or the new
key) and a rerun picks up the rest. Plaintexts do not change, so the rows' versions stay as
they are and refresh claims in flight remain valid.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tokenbot.core.clock import Clock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.errors import CryptoError
from tokenbot.core.models import Account
from tokenbot.core.models import EventKind
from tokenbot.core.models import OAuthLogin
from tokenbot.core.models import TokenEvent
from tokenbot.core.oauth_logins import verifier_context
from tokenbot.core.rows import token_context

__all__ = ["rotate_keys", "verify_keys"]

_ACCOUNT_COLUMNS = ("access_token", "refresh_token")
_SAMPLES_PER_KEY = 5


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
    # The new ciphertexts are in the WAL, the old ones still in the main file: fold them in.
    db.checkpoint()
    return changed


def verify_keys(db: Database, cipher: TokenCipher) -> int:
    """Open one stored value under every key id in use; return how many key ids were checked.

    Reads only the key id prefixes of all rows (no decryption), then decrypts up to a few values
    per key id and fails only if none of them opens (one damaged row must not stop the service;
    the sweep reports it on its account), so it stays quick with many accounts.

    Raises:
        CryptoError: A key id in use is missing from the keys, or its key is not the one the
            values were sealed with. The message names the key id, never a key or a value.
    """
    samples: dict[str, list[tuple[str, str]]] = {}
    with db.read() as session:
        accounts = session.execute(
            sa.select(Account.person_id, Account.access_token_enc, Account.refresh_token_enc)
        ).yield_per(2000)
        for person_id, access, refresh in accounts:
            for column, value in (("access_token", access), ("refresh_token", refresh)):
                if value is not None:
                    bucket = samples.setdefault(_key_id(value), [])
                    if len(bucket) < _SAMPLES_PER_KEY:
                        bucket.append((value, token_context(person_id, column)))
        logins = session.execute(
            sa.select(OAuthLogin.state_hash, OAuthLogin.verifier_enc).where(
                OAuthLogin.verifier_enc.is_not(None)
            )
        ).yield_per(2000)
        for state_hash, verifier in logins:
            if verifier is not None:
                bucket = samples.setdefault(_key_id(verifier), [])
                if len(bucket) < _SAMPLES_PER_KEY:
                    bucket.append((verifier, verifier_context(state_hash)))
    for bucket in samples.values():
        failure: CryptoError | None = None
        for value, context in bucket:
            try:
                cipher.decrypt(value, context=context)
                break
            except CryptoError as exc:
                failure = exc
        else:
            assert failure is not None
            raise failure
    return len(samples)


def _key_id(ciphertext: str) -> str:
    # "tbk1.<kid>.<data>": a malformed value gets its own bucket, so decrypt() reports it.
    parts = ciphertext.split(".", 2)
    return parts[1] if len(parts) == 3 else f"malformed:{ciphertext[:8]}"


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
        context = verifier_context(row.state_hash)
        row.verifier_enc = cipher.reencrypt(row.verifier_enc, context=context)
        return 1
    count = 0
    for column in _ACCOUNT_COLUMNS:
        value = getattr(row, f"{column}_enc")
        if value is not None and cipher.needs_rotation(value):
            context = token_context(row.person_id, column)
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
