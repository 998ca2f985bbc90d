"""The one SHA-256 helper: hex digests of text, for values stored or compared by hash.

Used where a table keeps only a hash (admin sessions, API tokens, throttle keys, OAuth login
states and browser bindings), for the bot's own-post fingerprints, and (shortened) for the log
redaction markers. Text is encoded as UTF-8; a lone surrogate (which JSON from outside can
carry) is encoded as is rather than raising, so hostile input cannot make hashing fail.
"""

from __future__ import annotations

import hashlib

__all__ = ["sha256_hex"]


def sha256_hex(text: str) -> str:
    """Return the 64 hex digits of the SHA-256 of `text` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
