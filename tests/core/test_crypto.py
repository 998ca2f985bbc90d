"""Encryption at rest (R-19): round trip, tamper, row binding, rotation, key hygiene."""

from __future__ import annotations

import base64

import pytest

from tokenbot.core.crypto import NONCE_BYTES
from tokenbot.core.crypto import TokenCipher
from tokenbot.core.errors import ConfigError
from tokenbot.core.errors import CryptoError

CANARY = "canary-refresh-token-3f9a1c77e2"
CONTEXT = "accounts/person-1/refresh_token"


def _key(fill: int) -> bytes:
    return bytes([fill]) * 32


def _raw(ciphertext: str) -> bytes:
    encoded = ciphertext.split(".")[2]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def _rebuild(ciphertext: str, raw: bytes) -> str:
    prefix, key_id, _ = ciphertext.split(".")
    return f"{prefix}.{key_id}." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher([("k1", _key(1))])


def test_round_trip_and_format(cipher: TokenCipher) -> None:
    sealed = cipher.encrypt(CANARY, context=CONTEXT)
    assert sealed.startswith("tbk1.k1.")
    assert sealed.isascii()
    assert CANARY not in sealed
    assert cipher.decrypt(sealed, context=CONTEXT) == CANARY


def test_round_trip_unicode_and_empty(cipher: TokenCipher) -> None:
    for text in ["", "é€😀", "x" * 5000]:
        assert cipher.decrypt(cipher.encrypt(text, context=CONTEXT), context=CONTEXT) == text


@pytest.mark.parametrize("position", [0, NONCE_BYTES, -1])
def test_flipping_one_byte_fails(cipher: TokenCipher, position: int) -> None:
    sealed = cipher.encrypt(CANARY, context=CONTEXT)
    raw = bytearray(_raw(sealed))
    raw[position] ^= 0x01
    with pytest.raises(CryptoError, match="k1.*failed authentication") as caught:
        cipher.decrypt(_rebuild(sealed, bytes(raw)), context=CONTEXT)
    assert CANARY not in str(caught.value)


def test_ciphertext_moved_to_another_row_fails(cipher: TokenCipher) -> None:
    sealed = cipher.encrypt(CANARY, context="accounts/person-1/refresh_token")
    with pytest.raises(CryptoError, match="failed authentication"):
        cipher.decrypt(sealed, context="accounts/person-2/refresh_token")
    with pytest.raises(CryptoError):
        cipher.decrypt(sealed, context="accounts/person-1/access_token")


def test_wrong_key_with_same_id_fails() -> None:
    sealed = TokenCipher([("k1", _key(1))]).encrypt(CANARY, context=CONTEXT)
    with pytest.raises(CryptoError, match="failed authentication"):
        TokenCipher([("k1", _key(2))]).decrypt(sealed, context=CONTEXT)


def test_unknown_key_id_names_it_and_the_env_var() -> None:
    sealed = TokenCipher([("old", _key(1))]).encrypt(CANARY, context=CONTEXT)
    with pytest.raises(CryptoError) as caught:
        TokenCipher([("new", _key(2))]).decrypt(sealed, context=CONTEXT)
    message = str(caught.value)
    assert "'old'" in message
    assert "TOKENBOT_ENCRYPTION_KEYS" in message


@pytest.mark.parametrize(
    "value",
    ["", "plain-token", "tbk2.k1.AAAA", "tbk1..AAAA", "tbk1.k1.!!!", "tbk1.k1.AAAA", "tbk1.k1"],
)
def test_malformed_values_raise_crypto_error(cipher: TokenCipher, value: str) -> None:
    with pytest.raises(CryptoError):
        cipher.decrypt(value, context=CONTEXT)
    with pytest.raises(CryptoError):
        cipher.needs_rotation(value)


def test_rotation_old_values_move_to_the_new_key() -> None:
    old = TokenCipher([("old", _key(1))])
    sealed = old.encrypt(CANARY, context=CONTEXT)

    both = TokenCipher([("new", _key(2)), ("old", _key(1))])
    assert both.primary_key_id == "new"
    assert both.decrypt(sealed, context=CONTEXT) == CANARY
    assert both.needs_rotation(sealed)

    rotated = both.reencrypt(sealed, context=CONTEXT)
    assert rotated.startswith("tbk1.new.")
    assert not both.needs_rotation(rotated)

    new_only = TokenCipher([("new", _key(2))])
    assert new_only.decrypt(rotated, context=CONTEXT) == CANARY
    with pytest.raises(CryptoError, match="'old'"):
        new_only.decrypt(sealed, context=CONTEXT)


def test_reencrypt_keeps_the_row_binding() -> None:
    both = TokenCipher([("new", _key(2)), ("old", _key(1))])
    sealed = TokenCipher([("old", _key(1))]).encrypt(CANARY, context=CONTEXT)
    rotated = both.reencrypt(sealed, context=CONTEXT)
    with pytest.raises(CryptoError):
        both.decrypt(rotated, context="accounts/other/refresh_token")
    with pytest.raises(CryptoError):
        both.reencrypt(sealed, context="accounts/other/refresh_token")


def test_ten_thousand_encryptions_use_distinct_nonces(cipher: TokenCipher) -> None:
    nonces = {_raw(cipher.encrypt("same", context=CONTEXT))[:NONCE_BYTES] for _ in range(10_000)}
    assert len(nonces) == 10_000


def test_from_spec_and_generated_keys() -> None:
    first = TokenCipher.generate_key_spec("a2026")
    second = TokenCipher.generate_key_spec()
    assert first.startswith("a2026:")
    assert first != TokenCipher.generate_key_spec("a2026")
    cipher = TokenCipher.from_spec(f" {first} , {second} ")
    assert cipher.primary_key_id == "a2026"
    assert cipher.key_ids == ("a2026", second.split(":")[0])
    # Padded base64 is accepted too.
    padded = "p:" + base64.urlsafe_b64encode(_key(7)).decode()
    assert padded.endswith("=")
    sealed = TokenCipher.from_spec(padded).encrypt(CANARY, context=CONTEXT)
    assert TokenCipher([("p", _key(7))]).decrypt(sealed, context=CONTEXT) == CANARY


def test_repr_shows_key_ids_only() -> None:
    spec = TokenCipher.generate_key_spec("k1")
    text = repr(TokenCipher.from_spec(spec))
    assert "k1" in text
    assert spec.split(":")[1] not in text


SECRET_KEY_B64 = base64.urlsafe_b64encode(b"S" * 32).rstrip(b"=").decode()
SHORT_KEY_B64 = base64.urlsafe_b64encode(b"S" * 16).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", "is empty"),
        (SECRET_KEY_B64, "entry 1 of 1 has no ':'"),
        (f"k1:{SECRET_KEY_B64},", "entry 2 of 2 is empty"),
        (f"bad.id:{SECRET_KEY_B64}", "entry 1 of 1 has an invalid key id"),
        (f"k1:{SECRET_KEY_B64}$$", "'k1') is not base64url"),
        (f"k1:{SHORT_KEY_B64}", "decodes to 16 bytes"),
        (f"k1:{SECRET_KEY_B64},k1:{SECRET_KEY_B64}", "'k1' appears twice"),
    ],
)
def test_malformed_spec_names_the_variable_never_the_key(spec: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TokenCipher.from_spec(spec)
    error = caught.value
    assert error.key == "TOKENBOT_ENCRYPTION_KEYS"
    text = str(error)
    assert expected in text
    assert "\n" not in text
    assert SECRET_KEY_B64 not in text
    assert SHORT_KEY_B64 not in text
    assert "SSSS" not in text


def test_constructor_rejects_bad_keys() -> None:
    with pytest.raises(ConfigError, match="no encryption key"):
        TokenCipher([])
    with pytest.raises(ConfigError, match="16 bytes"):
        TokenCipher([("k1", b"x" * 16)])
    with pytest.raises(ConfigError, match="invalid"):
        TokenCipher([("a:b", _key(1))])
    with pytest.raises(ValueError):
        TokenCipher.generate_key_spec("no,commas")
