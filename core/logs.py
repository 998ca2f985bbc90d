"""Logging that never writes a secret, at any level, from any logger (R-22).

`configure_logging` installs one handler on the root logger, so third-party loggers (urllib3,
requests, authlib, werkzeug's access log, apscheduler) pass through it too, and puts a
`RedactingFilter` on it. The filter rewrites each record after %-formatting: bearer tokens and
``Authorization`` values, OAuth query/form parameters (``code=``, ``state=``, ``access_token=``
...), JSON or dict keys of the same names, and every literal given to `register_secret` become
``[redacted sha256:1a2b3c4d]``. The fingerprint (`fingerprint`) lets you tell two values apart
in the logs without revealing either; log ``fingerprint(token)`` yourself instead of a token.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Callable
from collections.abc import Iterable
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TextIO

from tokenbot.core.errors import ConfigError
from tokenbot.core.hashing import sha256_hex

__all__ = [
    "LEVELS",
    "FORMATS",
    "RedactingFilter",
    "configure_logging",
    "fingerprint",
    "forget_secret",
    "redact",
    "register_secret",
]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
MIN_SECRET_LENGTH = 8
# The oldest literals (long-expired tokens) make room for new ones, so a long-running process
# that registers every refreshed token does not grow the registry without end.
MAX_REGISTERED_SECRETS = 10_000

_SENSITIVE_NAMES = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code_verifier",
    "code",
    "state",
    "token",
    "password",
    "secret",
    "webhook_secret",
)
_NAMES = "|".join(sorted(_SENSITIVE_NAMES, key=len, reverse=True))
# A value already replaced must not be redacted again.
_NOT_DONE = r"(?!\[redacted )"
_AUTHORIZATION = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)"
    + _NOT_DONE
    + r"([^\"'\r\n]+)"
)
_BEARER = re.compile(r"(?i)(\bbearer\s+)" + _NOT_DONE + r"([^\s\"',;]+)")
# `code=...` in a URL, form body or `name=value` text; the look-behind spares `error_code=`.
_PARAMETER = re.compile(
    r"(?i)((?<![A-Za-z0-9_])(?:" + _NAMES + r")=[\"']?)" + _NOT_DONE + r"([^&\s\"'#,;)]+)"
)
# `"access_token": "..."` in JSON and `'access_token': '...'` in a dict repr.
_KEYED = re.compile(
    r"(?i)([\"'](?:"
    + _NAMES
    + r"|authorization)[\"']\s*:\s*([\"']))"
    + _NOT_DONE
    + r"((?:\\.|(?!\2).)+)"
)
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


def fingerprint(value: str) -> str:
    """Return the first 8 hex digits of the SHA-256 of `value`: safe to log, stable to compare."""
    return sha256_hex(value)[:8]


def _marker(value: str) -> str:
    return f"[redacted sha256:{fingerprint(value)}]"


class _SecretRegistry:
    """Literals to redact wherever they appear; safe to share between threads.

    Lookup is by each literal's first `MIN_SECRET_LENGTH` characters, so redacting a line
    costs one dictionary probe per character whatever the number of literals (a regex
    alternation of a thousand tokens cost ~0.5 ms per line and ~80 ms per registration).
    Readers take the current index without a lock; writers replace it whole (copy on write).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, None] = {}  # insertion order: the oldest is evicted first
        self._index: dict[str, tuple[str, ...]] = {}

    def add(self, value: str) -> None:
        with self._lock:
            if value in self._values:
                return
            self._values[value] = None
            index = dict(self._index)
            self._put(index, value)
            while len(self._values) > MAX_REGISTERED_SECRETS:
                oldest = next(iter(self._values))
                del self._values[oldest]
                self._drop(index, oldest)
            self._index = index

    def discard(self, value: str) -> None:
        with self._lock:
            if value in self._values:
                del self._values[value]
                index = dict(self._index)
                self._drop(index, value)
                self._index = index

    def clear(self) -> None:
        with self._lock:
            self._values = {}
            self._index = {}

    @staticmethod
    def _put(index: dict[str, tuple[str, ...]], value: str) -> None:
        key = value[:MIN_SECRET_LENGTH]
        # Longest first, so a secret that starts with another is replaced whole.
        index[key] = tuple(sorted((*index.get(key, ()), value), key=len, reverse=True))

    @staticmethod
    def _drop(index: dict[str, tuple[str, ...]], value: str) -> None:
        key = value[:MIN_SECRET_LENGTH]
        rest = tuple(v for v in index.get(key, ()) if v != value)
        if rest:
            index[key] = rest
        else:
            index.pop(key, None)

    def redact(self, text: str) -> str:
        index = self._index  # one read: a writer swaps in a new dict, never edits this one
        if not index:
            return text
        width = MIN_SECRET_LENGTH
        pieces: list[str] = []
        done = 0
        position = 0
        last = len(text) - width
        while position <= last:
            found = None
            for candidate in index.get(text[position : position + width], ()):
                if text.startswith(candidate, position):
                    found = candidate
                    break
            if found is None:
                position += 1
                continue
            pieces.append(text[done:position])
            pieces.append(_marker(found))
            position += len(found)
            done = position
        if not pieces:
            return text
        pieces.append(text[done:])
        return "".join(pieces)


_registry = _SecretRegistry()


def register_secret(value: str | None) -> None:
    """Redact `value` from every log line from now on (values under 8 characters are ignored).

    Register tokens, client secrets and keys as soon as they are read or received.
    """
    if value and len(value) >= MIN_SECRET_LENGTH:
        _registry.add(value)


def forget_secret(value: str | None = None) -> None:
    """Stop redacting `value`, or every registered literal when `value` is None (for tests)."""
    if value is None:
        _registry.clear()
    else:
        _registry.discard(value)


def redact(text: str) -> str:
    """Return `text` with registered secrets and token-shaped values replaced by fingerprints."""
    text = _registry.redact(text)
    text = _AUTHORIZATION.sub(_replacer(2), text)
    text = _BEARER.sub(_replacer(2), text)
    text = _PARAMETER.sub(_replacer(2), text)
    return _KEYED.sub(_replacer(3), text)


def _replacer(group: int) -> Callable[[re.Match[str]], str]:
    """Replace `group` of a match by its marker, keeping the text before it (the name)."""

    def replace(match: re.Match[str]) -> str:
        value = match.group(group)
        if "[redacted " in value:  # an earlier pass already hid the secret in it
            return match.group(0)
        start, end = match.span(group)
        whole = match.group(0)
        offset = match.start(0)
        return whole[: start - offset] + _marker(value) + whole[end - offset :]

    return replace


class RedactingFilter(logging.Filter):
    """Rewrite a record's message, exception text and string extras through `redact`.

    Install it on handlers (not loggers): a handler's filters see records propagated from every
    logger. It never drops a record and never raises.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact `record` in place; always keep it."""
        try:
            self._redact_record(record)
        except Exception:  # a broken filter must not drop the log line
            record.msg = "[log record withheld: redaction failed]"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True

    @staticmethod
    def _redact_record(record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep what we can, redacted
            message = f"{record.msg!s} [unformattable args: {record.args!r}]"
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text)
            # Formatters render exc_info only when exc_text is empty; dropping exc_info also
            # keeps later handlers and formatters from rendering the raw traceback again.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name in _STANDARD_ATTRS or value is None or isinstance(value, bool | int | float):
                continue
            record.__dict__[name] = redact(value if isinstance(value, str) else repr(value))


class _UTCFormatter(logging.Formatter):
    """Readable lines with ISO-8601 UTC times."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(_UTCFormatter):
    """One JSON object per line: time, level, logger, message, exception, and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a single-line JSON object."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRS and name not in entry:
                entry[name] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


def _make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    return _UTCFormatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s")


def _has_redactor(handler: logging.Handler) -> bool:
    return any(isinstance(f, RedactingFilter) for f in handler.filters)


def _ensure_redactor(handlers: Iterable[logging.Handler]) -> None:
    for handler in handlers:
        if not _has_redactor(handler):
            handler.addFilter(RedactingFilter())


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Write to whatever `sys.stderr` is when a record is emitted (it may be replaced)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # always the current sys.stderr


def configure_logging(
    level: str = "INFO", fmt: str = "text", *, stream: TextIO | None = None
) -> None:
    """Send every logger's records to `stream` (default stderr), redacted, at `level`.

    Calling it again changes level, format or stream without adding a second handler. Every
    handler already on the root logger gets a `RedactingFilter` too.

    Raises:
        ConfigError: `level` or `fmt` is not one of `LEVELS` / `FORMATS`.
    """
    level_name = level.upper()
    if level_name not in LEVELS:
        raise ConfigError(
            "logging.level", f"unknown level {level!r}", hint="use one of " + ", ".join(LEVELS)
        )
    if fmt not in FORMATS:
        raise ConfigError(
            "logging.format", f"unknown format {fmt!r}", hint="use one of " + ", ".join(FORMATS)
        )
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_tokenbot", False)]
    handler: logging.Handler
    if ours and isinstance(ours[0], _StderrHandler) == (stream is None):
        handler = ours[0]
        if stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    else:
        for old in ours:
            root.removeHandler(old)
        handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
        setattr(handler, "_tokenbot", True)  # noqa: B010 (marks our handler on the root)
        root.addHandler(handler)
    handler.setFormatter(_make_formatter(fmt))
    _ensure_redactor(root.handlers)
    root.setLevel(level_name)
