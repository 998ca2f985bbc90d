"""The helpers that replaced drifted copies: durations, loopback hosts, SHA-256 digests."""

from __future__ import annotations

import hashlib

import pytest

from tokenbot.core.durations import format_duration
from tokenbot.core.hashing import sha256_hex
from tokenbot.core.loopback import is_loopback_host


@pytest.mark.parametrize(
    ("seconds", "units", "text"),
    [
        (0, 2, "0 s"),
        (-5, 2, "0 s"),
        (45.9, 2, "45 s"),
        (60, 2, "1 min"),
        (303, 2, "5 min 3 s"),
        (7500, 2, "2 h 5 min"),
        (7200, 2, "2 h"),
        (7205, 2, "2 h"),  # two units: the seconds are below what a glance needs
        (13 * 86400 + 23 * 3600 + 59 * 60 + 30, 2, "13 d 23 h"),
        (86400, 2, "1 d"),
        (3605, 4, "1 h 0 min 5 s"),  # exact: the zero in the middle stays
        (5400, 4, "1 h 30 min"),
        (1, 4, "1 s"),
    ],
)
def test_format_duration(seconds: float, units: int, text: str) -> None:
    assert format_duration(seconds, units=units) == text


def test_format_duration_refuses_zero_units() -> None:
    with pytest.raises(ValueError, match="units must be at least 1"):
        format_duration(5, units=0)


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "localhost.localdomain",
        "panel.localhost",
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "[::1]",
        "::1%lo",
    ],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    ["", "example.com", "localhost.example.com", "10.0.0.1", "0.0.0.0", "::", "[2001:db8::1]"],
)
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


def test_sha256_hex_is_sha256_of_utf8() -> None:
    assert sha256_hex("grüße") == hashlib.sha256("grüße".encode()).hexdigest()
    assert len(sha256_hex("")) == 64


def test_sha256_hex_takes_a_lone_surrogate() -> None:
    # JSON from outside may carry one ("\ud800"); hashing hostile text must not raise.
    assert len(sha256_hex("\ud800")) == 64
