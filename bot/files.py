"""Received files: fetched for a command from `/v1/contents/{id}`, carefully.

A file someone sends the user is fetched with the user's token, so every step guards it:

1. The URL must be under the configured API base's `contents/` (scheme, host, port and path
   exactly): a file on any other host is never requested, so the token cannot leak there.
2. `HEAD` first: a file over `file_max_bytes` or of a type outside `file_types` is refused
   without downloading a byte.
3. `GET` through Webex's malware-scan ladder: 423 waits `Retry-After` (clamped to 1-15 s)
   within `file_fetch_budget_seconds`, 410 (infected) stops, 428 (unscannable) is refused
   unless `file_allow_unscannable` (then `?allow=unscannable`).
4. No redirect is followed (a 3xx is refused), and the body streams into a temporary file that
   is cut off at the cap even if `Content-Length` lied. The caller deletes the folder.

Webex calls per received file: one HEAD and one GET, plus one GET per 423 answer.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message as MimeHeaders
from pathlib import Path
from urllib.parse import urlsplit

import requests

__all__ = ["FileFetcher", "FileRefused", "ReceivedFile"]

log = logging.getLogger(__name__)
_CHUNK = 64 * 1024
_MIN_WAIT, _MAX_WAIT = 1.0, 15.0
# Bounded even if the budget were huge: no more attempts than this.
_MAX_ATTEMPTS = 30
_CONTENT_ID = re.compile(r"[A-Za-z0-9_-]{1,512}")


class FileRefused(Exception):
    """A received file was not fetched; `reason` says why, for the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A fetched file on local disk (deleted after the command's replies are posted).

    Attributes:
        name: The sender's file name, reduced to a safe plain name.
        content_type: What Webex said it is.
        size: Bytes on disk.
        path: Where it is (inside a private temporary folder).
    """

    name: str
    content_type: str
    size: int
    path: Path


class FileFetcher:
    """Fetch received files from Webex under caps, for commands that take files.

    Args:
        api_base_url: The configured REST base (`https://webexapis.com/v1/`).
        token: Returns the bot identity's current access token.
        max_bytes: The largest file fetched.
        types: Allowed media types (`image/*` patterns); empty allows any.
        budget_seconds: The longest one fetch waits on the malware scan.
        allow_unscannable: Fetch files Webex could not scan (428).
        timeout: Seconds for one HTTP request.
        session: The HTTP session (tests may pass one).
        sleep: Waits between 423 answers (tests pass a fake).
        monotonic: Measures the budget (tests pass a fake).
    """

    def __init__(
        self,
        *,
        api_base_url: str,
        token: Callable[[], str],
        max_bytes: int,
        types: tuple[str, ...] = (),
        budget_seconds: float = 60.0,
        allow_unscannable: bool = False,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._prefix = api_base_url.rstrip("/") + "/contents/"
        self._token = token
        self.max_bytes = max_bytes
        self._types = tuple(t.lower() for t in types)
        self._budget = budget_seconds
        self._allow_unscannable = allow_unscannable
        self._timeout = timeout
        self._session = session or requests.Session()
        # Never let an environment proxy or .netrc see the token.
        self._session.trust_env = False
        self._sleep = sleep
        self._monotonic = monotonic

    def is_ours(self, url: str) -> bool:
        """Return whether `url` is a file under the configured API host (the token may go)."""
        if not url.startswith(self._prefix):
            return False
        base, candidate = urlsplit(self._prefix), urlsplit(url)
        if (candidate.scheme, candidate.netloc) != (base.scheme, base.netloc):
            return False
        if candidate.query or candidate.fragment:
            return False
        return bool(_CONTENT_ID.fullmatch(url[len(self._prefix) :]))

    def fetch(self, url: str, folder: Path) -> ReceivedFile:
        """Fetch `url` into `folder`; raise `FileRefused` with a reason the sender can read."""
        if not self.is_ours(url):
            log.warning("a received file outside the Webex API was not fetched")
            raise FileRefused("the file is not stored on Webex, so I did not fetch it")
        head = self._request("HEAD", url)
        if head.status_code != 200:
            raise FileRefused(_status_reason(head.status_code))
        name = safe_name(head.headers.get("Content-Disposition", ""))
        kind = head.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
        size = _int(head.headers.get("Content-Length"))
        if size is not None and size > self.max_bytes:
            raise FileRefused(
                f"the file is {size} bytes; the most I accept is {self.max_bytes} bytes"
            )
        if self._types and not any(fnmatch.fnmatch(kind.lower(), t) for t in self._types):
            raise FileRefused(f"I do not accept {kind} files (allowed: {', '.join(self._types)})")
        return self._download(url, folder, name, kind)

    def _download(self, url: str, folder: Path, name: str, kind: str) -> ReceivedFile:
        deadline = self._monotonic() + self._budget
        target = url
        for _ in range(_MAX_ATTEMPTS):
            response = self._request("GET", target, stream=True)
            try:
                status = response.status_code
                if status == 200:
                    return self._save(response, folder, name, kind)
                if status == 423:
                    wait = _retry_after(response.headers.get("Retry-After"))
                    if self._monotonic() + wait > deadline:
                        raise FileRefused(
                            "Webex is still scanning the file for malware; send it again later"
                        )
                    self._sleep(wait)
                    continue
                if status == 428 and self._allow_unscannable and target == url:
                    target = url + "?allow=unscannable"
                    continue
                raise FileRefused(_status_reason(status))
            finally:
                response.close()
        raise FileRefused("Webex is still scanning the file for malware; send it again later")

    def _save(
        self, response: requests.Response, folder: Path, name: str, kind: str
    ) -> ReceivedFile:
        path = folder / name
        written = 0
        with path.open("xb") as out:
            for chunk in response.iter_content(_CHUNK):
                written += len(chunk)
                if written > self.max_bytes:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise FileRefused(f"the file is larger than {self.max_bytes} bytes")
                out.write(chunk)
        return ReceivedFile(name=name, content_type=kind, size=written, path=path)

    def _request(self, method: str, url: str, *, stream: bool = False) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._token()}"}
        try:
            return self._session.request(
                method,
                url,
                headers=headers,
                allow_redirects=False,
                stream=stream,
                timeout=self._timeout,
            )
        except requests.RequestException as error:
            raise FileRefused(f"Webex did not answer ({type(error).__name__})") from error


def safe_name(disposition: str, fallback: str = "file") -> str:
    """Return the file name of a `Content-Disposition`, reduced to a safe plain name."""
    headers = MimeHeaders()
    headers["Content-Disposition"] = disposition
    raw = headers.get_filename() or ""
    name = Path(raw.replace("\\", "/")).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    name = name[:120]
    return name or fallback


def _status_reason(status: int) -> str:
    if status == 410:
        return "Webex found malware in the file and removed it"
    if status == 428:
        return (
            "Webex could not scan the file for malware (e.g. an encrypted archive), so I refuse it"
        )
    if status in (301, 302, 303, 307, 308):
        return "Webex answered with a redirect, which I never follow with your token"
    if status in (401, 403, 404):
        return f"I may not read that file (Webex answered {status})"
    return f"Webex answered {status} for the file"


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value else 5.0
    except ValueError:
        seconds = 5.0
    return min(max(seconds, _MIN_WAIT), _MAX_WAIT)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
