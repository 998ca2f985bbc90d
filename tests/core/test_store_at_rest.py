"""Token material at rest: never in plain or simply encoded form, bound to its row, rotatable."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.core.factories import canary
from tests.core.factories import identity
from tests.core.factories import tokens
from tokenbot.core.clock import FrozenClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.db import Database
from tokenbot.core.errors import CryptoError
from tokenbot.core.models import Account
from tokenbot.core.models import EventKind
from tokenbot.core.models import OAuthLogin
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.store import TokenStore


def _forms(secret: str) -> list[bytes]:
    """Return `secret` in plain, hex and base64/base64url form at every byte alignment."""
    raw = secret.encode()
    forms = [raw, binascii.hexlify(raw), binascii.hexlify(raw).upper()]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw)
        # Keep only the characters that depend on the secret's bytes alone.
        start, end = -(-8 * pad // 6), 8 * (pad + len(raw)) // 6
        fragment = encoded[start:end]
        forms += [fragment, fragment.translate(bytes.maketrans(b"+/", b"-_"))]
    return forms


def _dump(database: Database) -> bytes:
    """Return every value of every column of every table as bytes."""
    chunks: list[bytes] = []
    inspector = sa.inspect(database.engine)
    with database.engine.connect() as conn:
        for table in inspector.get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                chunks.extend(str(value).encode() for value in row)
    return b"\n".join(chunks)


def _sqlite_files(database: Database) -> bytes:
    path = make_url(database.url).database
    assert path
    return b"".join(
        Path(path + suffix).read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(path + suffix).exists()
    )


def test_no_token_appears_in_any_column_or_file(
    store: TokenStore, database: Database, clock: FrozenClock
) -> None:
    secrets: list[str] = []
    for _ in range(3):
        first = tokens()
        account = store.save_connected(identity(), ["spark:all"], first, sent_at=clock.now())
        claim = store.claim(account.id, owner="w", lease_seconds=30)
        assert claim is not None
        second = tokens()
        store.complete_refresh(claim, second, sent_at=clock.now())
        secrets += [first.access_token, second.access_token]
        secrets += [t for t in (first.refresh_token, second.refresh_token) if t]
    pending_verifier, used_verifier, binding = canary("PV"), canary("UV"), canary("SB")
    store.begin_login(session_binding=binding, verifier=pending_verifier)
    used_state = store.begin_login(session_binding=binding, verifier=used_verifier)
    assert store.consume_login(used_state, session_binding=binding) == used_verifier
    secrets += [pending_verifier, used_verifier, used_state, binding]

    haystacks = [_dump(database)]
    if database.is_sqlite:
        haystacks.append(_sqlite_files(database))
    # The scan is not vacuous: the dump does hold the ciphertexts and the identities.
    assert b"tbk1.ktest." in haystacks[0] and b"@example.com" in haystacks[0]
    for secret in secrets:
        for form in _forms(secret):
            for haystack in haystacks:
                assert form not in haystack, f"a secret leaked in form {form[:12]!r}..."


def test_the_canary_scan_would_see_an_encoded_leak() -> None:
    secret = canary("X")
    for pad in range(3):
        leaked = base64.urlsafe_b64encode(b"p" * pad + secret.encode() + b"suffix")
        assert any(form in leaked for form in _forms(secret))


def test_a_ciphertext_moved_to_another_row_or_column_fails(
    store: TokenStore, database: Database, clock: FrozenClock
) -> None:
    a = store.save_connected(identity(), ["spark:all"], tokens(), sent_at=clock.now())
    b = store.save_connected(identity(), ["spark:all"], tokens(), sent_at=clock.now())
    with database.write() as session:
        a_refresh, a_access = session.execute(
            sa.select(Account.refresh_token_enc, Account.access_token_enc).where(Account.id == a.id)
        ).one()
        session.execute(
            sa.update(Account).where(Account.id == b.id).values(refresh_token_enc=a_refresh)
        )
        session.execute(
            sa.update(Account).where(Account.id == a.id).values(access_token_enc=a_refresh)
        )
    with pytest.raises(CryptoError):
        store.claim(b.id, owner="w", lease_seconds=30)
    with pytest.raises(CryptoError):
        store.access_grant(a.id)
    # The failed claim took no lease.
    assert store.get(b.id).lease_owner is None
    assert a_access != a_refresh


def test_rotation_moves_every_value_to_the_new_key(
    database: Database, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    old_spec = TokenCipher.generate_key_spec("kold")
    new_spec = TokenCipher.generate_key_spec("knew")
    old_store = TokenStore(database, TokenCipher.from_spec(old_spec), clock=clock, policy=policy)
    sent = [tokens() for _ in range(3)]
    ids = [
        old_store.save_connected(identity(), ["spark:all"], t, sent_at=clock.now()).id for t in sent
    ]
    old_store.disconnect(ids[2])  # nothing left to rotate there
    state = old_store.begin_login(session_binding="b", verifier="pkce-verifier-" + "x" * 30)

    both = TokenStore(
        database, TokenCipher.from_spec(f"{new_spec},{old_spec}"), clock=clock, policy=policy
    )
    assert both.rotate_keys(batch_size=1) == 2 + 2 + 1
    assert both.rotate_keys() == 0

    new_only = TokenStore(database, TokenCipher.from_spec(new_spec), clock=clock, policy=policy)
    for account_id, original in zip(ids[:2], sent[:2], strict=True):
        assert new_only.access_grant(account_id).access_token == original.access_token
        claim = new_only.claim(account_id, owner="w", lease_seconds=30)
        assert claim is not None and claim.refresh_token == original.refresh_token
        assert new_only.events(account_id)[0].kind is EventKind.KEYS_ROTATED
    assert not any(e.kind is EventKind.KEYS_ROTATED for e in new_only.events(ids[2]))
    assert new_only.consume_login(state, session_binding="b") == "pkce-verifier-" + "x" * 30
    with database.read() as session:
        values = list(
            session.execute(sa.select(Account.access_token_enc, Account.refresh_token_enc))
        ) + list(session.execute(sa.select(OAuthLogin.verifier_enc)))
    flat = [value for row in values for value in row if value is not None]
    assert flat and not any(value.startswith("tbk1.kold.") for value in flat)


def test_rotation_keeps_claims_in_flight_valid(
    database: Database, clock: FrozenClock, policy: RefreshPolicy
) -> None:
    old_spec = TokenCipher.generate_key_spec("kold")
    new_spec = TokenCipher.generate_key_spec("knew")
    old_store = TokenStore(database, TokenCipher.from_spec(old_spec), clock=clock, policy=policy)
    account_id = old_store.save_connected(
        identity(), ["spark:all"], tokens(), sent_at=clock.now()
    ).id
    claim = old_store.claim(account_id, owner="w", lease_seconds=30)
    assert claim is not None
    both = TokenStore(
        database, TokenCipher.from_spec(f"{new_spec},{old_spec}"), clock=clock, policy=policy
    )
    assert both.rotate_keys() == 2
    # The refresh that was running during the rotation still lands.
    assert both.complete_refresh(claim, tokens(), sent_at=clock.now()).version == claim.version + 1
