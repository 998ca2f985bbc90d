"""Authenticated encryption of token material at rest (AES-256-GCM, key id stored per value).

Every value is encrypted with AES-256-GCM under a fresh random 96-bit nonce. The caller's
`context` (the row identity, e.g. ``accounts/<person_id>/refresh_token``) is the associated
data, so a ciphertext copied into another row or column fails to decrypt. A stored value reads
``tbk1.<key_id>.<base64url(nonce || ciphertext || tag)>``: the key id travels with the value, so
several keys can be in force at once.

Keys come from the environment only, never the database or the repository::

    TOKENBOT_ENCRYPTION_KEYS="k2026a:<base64url of 32 random bytes>[,kOld:<...>]"

The first key is the primary: it encrypts everything new. The others only decrypt. Make a key
with ``tokenbot keys generate``.

Rotating a key:

1. Prepend a new key to ``TOKENBOT_ENCRYPTION_KEYS`` (``new,old``) and restart every instance.
   New writes use the new key; old values still decrypt with the old one.
2. Run ``tokenbot keys rotate``: it re-encrypts every stored value that `needs_rotation` with
   `reencrypt` (decrypt with whichever key it names, encrypt under the primary).
3. Drop the old key from ``TOKENBOT_ENCRYPTION_KEYS`` and restart. A value still under the old
   key now fails loudly with a `CryptoError` naming the missing key id, instead of silently.

Errors name key ids (they are not secret) and never the key bytes, the plaintext or the
ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tokenbot.core.errors import ConfigError
from tokenbot.core.errors import CryptoError

__all__ = ["ENV_VAR", "KEY_BYTES", "NONCE_BYTES", "PREFIX", "TokenCipher"]

ENV_VAR = "TOKENBOT_ENCRYPTION_KEYS"
PREFIX = "tbk1"
KEY_BYTES = 32
NONCE_BYTES = 12
_TAG_BYTES = 16
# Key ids sit between dots in every stored value and between ':' and ',' in the spec, so
# none of those characters may appear in one.
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_KEY_ID_RULE = "1-32 characters from A-Z a-z 0-9 _ -"
_SPEC_HINT = (
    f"set {ENV_VAR} to 'keyid:base64url(32 random bytes)[,keyid:...]'; "
    "make one with TokenCipher.generate_key_spec()"
)


def _b64decode(text: str) -> bytes:
    """Decode base64url (padding optional); raise ValueError on anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    text = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenCipher:
    """Encrypt and decrypt token strings under a list of keys; the first key is the primary."""

    __slots__ = ("_aeads", "_key_ids")

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """Hold `keys` as (key id, 32 raw bytes) pairs; the first one encrypts.

        Raises:
            ConfigError: no key, a bad or repeated key id, or a key that is not 32 bytes.
        """
        if not keys:
            raise ConfigError(ENV_VAR, "no encryption key given", hint=_SPEC_HINT)
        aeads: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if not _KEY_ID.fullmatch(key_id):
                raise ConfigError(
                    ENV_VAR, f"a key id is invalid: use {_KEY_ID_RULE}", hint=_SPEC_HINT
                )
            if key_id in aeads:
                raise ConfigError(
                    ENV_VAR, f"key id {key_id!r} appears twice", hint="give each key its own id"
                )
            if len(key) != KEY_BYTES:
                raise ConfigError(
                    ENV_VAR,
                    f"key {key_id!r} is {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}",
                    hint=_SPEC_HINT,
                )
            aeads[key_id] = AESGCM(key)
        self._aeads = aeads
        self._key_ids = tuple(aeads)

    @classmethod
    def from_spec(cls, spec: str) -> TokenCipher:
        """Build a cipher from the `TOKENBOT_ENCRYPTION_KEYS` value ``kid:b64[,kid:b64...]``.

        Raises:
            ConfigError: keyed ``TOKENBOT_ENCRYPTION_KEYS``, on any malformed part. The message
                says which part (by position and, when well formed, key id), never the key.
        """
        parts = [part.strip() for part in spec.split(",")]
        if not spec.strip():
            raise ConfigError(ENV_VAR, "is empty", hint=_SPEC_HINT)
        keys: list[tuple[str, bytes]] = []
        for number, part in enumerate(parts, start=1):
            where = f"entry {number} of {len(parts)}"
            key_id, sep, encoded = part.partition(":")
            if not part:
                raise ConfigError(ENV_VAR, f"{where} is empty (stray comma?)", hint=_SPEC_HINT)
            if not sep:
                # The whole part may be a bare key: say nothing of its content.
                raise ConfigError(
                    ENV_VAR, f"{where} has no ':' between key id and key", hint=_SPEC_HINT
                )
            key_id = key_id.strip()
            if not _KEY_ID.fullmatch(key_id):
                raise ConfigError(
                    ENV_VAR, f"{where} has an invalid key id: use {_KEY_ID_RULE}", hint=_SPEC_HINT
                )
            try:
                key = _b64decode(encoded.strip())
            except ValueError:
                raise ConfigError(
                    ENV_VAR, f"{where} (key id {key_id!r}) is not base64url", hint=_SPEC_HINT
                ) from None
            if len(key) != KEY_BYTES:
                raise ConfigError(
                    ENV_VAR,
                    f"{where} (key id {key_id!r}) decodes to {len(key)} bytes; "
                    f"AES-256 needs exactly {KEY_BYTES}",
                    hint=_SPEC_HINT,
                )
            keys.append((key_id, key))
        return cls(keys)

    @staticmethod
    def generate_key_spec(key_id: str | None = None) -> str:
        """Return a new ``kid:base64url(32 random bytes)`` entry for `TOKENBOT_ENCRYPTION_KEYS`."""
        if key_id is None:
            key_id = "k" + secrets.token_hex(4)
        if not _KEY_ID.fullmatch(key_id):
            raise ValueError(f"key id must be {_KEY_ID_RULE}")
        return f"{key_id}:{_b64encode(AESGCM.generate_key(bit_length=256))}"

    @property
    def primary_key_id(self) -> str:
        """The id of the key that encrypts new values."""
        return self._key_ids[0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """All key ids in force, primary first."""
        return self._key_ids

    def __repr__(self) -> str:
        return f"TokenCipher(key_ids={list(self._key_ids)!r})"

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt `plaintext` under the primary key, bound to `context` (the row identity)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aeads[self.primary_key_id].encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        return f"{PREFIX}.{self.primary_key_id}.{_b64encode(nonce + sealed)}"

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        """Return the plaintext of `ciphertext`, which must have been sealed for `context`.

        Raises:
            CryptoError: malformed value, key id not in force, or authentication failed
                (tampered, moved from another row, or wrong key). Names the key id only.
        """
        key_id, blob = self._parse(ciphertext)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise CryptoError(
                f"the value is encrypted under key id {key_id!r}, which is missing from {ENV_VAR}",
                hint=f"add the key {key_id!r} back to {ENV_VAR} (after the primary)",
            )
        try:
            plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode("utf-8"))
        except InvalidTag:
            raise CryptoError(
                f"decryption under key id {key_id!r} failed authentication",
                hint="the value was altered, copied from another row, or the key is wrong",
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise CryptoError(f"value under key id {key_id!r} is not UTF-8 text") from None

    def needs_rotation(self, ciphertext: str) -> bool:
        """Tell whether `ciphertext` is under a key other than the primary.

        Raises:
            CryptoError: the value is not a tokenbot ciphertext.
        """
        key_id, _ = self._parse(ciphertext)
        return key_id != self.primary_key_id

    def reencrypt(self, ciphertext: str, *, context: str) -> str:
        """Decrypt `ciphertext` with its own key and encrypt it again under the primary."""
        return self.encrypt(self.decrypt(ciphertext, context=context), context=context)

    @staticmethod
    def _parse(ciphertext: str) -> tuple[str, bytes]:
        """Split ``tbk1.<kid>.<b64>`` into key id and raw bytes; never echo the value."""
        prefix, _, rest = ciphertext.partition(".")
        key_id, _, encoded = rest.partition(".")
        if prefix != PREFIX or not _KEY_ID.fullmatch(key_id):
            raise CryptoError(
                "the value is not a tokenbot ciphertext",
                hint=f"expected '{PREFIX}.<key id>.<data>'",
            )
        try:
            blob = _b64decode(encoded)
        except ValueError:
            raise CryptoError(f"the value under key id {key_id!r} is not base64url") from None
        if len(blob) < NONCE_BYTES + _TAG_BYTES:
            raise CryptoError(f"the value under key id {key_id!r} is truncated")
        return key_id, blob
