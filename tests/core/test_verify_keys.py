"""The start-up key check: a wrong key stops the service, one damaged row does not."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.plugins.tokens import connect_fake
from tokenbot.core.clock import FrozenClock
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.errors import CryptoError
from tokenbot.core.models import Account
from tokenbot.core.rotation import verify_keys
from tokenbot.core.store import TokenStore


def test_one_damaged_row_does_not_fail_the_check_but_a_wrong_key_does(
    store: TokenStore, clock: FrozenClock
) -> None:
    first = connect_fake(store, clock, email="first@example.com")
    second = connect_fake(store, clock, email="second@example.com")
    with store.db.write() as session:  # the first row holds a value moved from the second
        moved = session.execute(
            sa.select(Account.access_token_enc).where(Account.id == second.id)
        ).scalar_one()
        session.execute(
            sa.update(Account).where(Account.id == first.id).values(access_token_enc=moved)
        )
    assert verify_keys(store.db, store.cipher) == 1  # one key id in use, and it opens values
    other = TokenCipher.from_spec(TokenCipher.generate_key_spec(store.cipher.primary_key_id))
    with pytest.raises(CryptoError):
        verify_keys(store.db, other)
