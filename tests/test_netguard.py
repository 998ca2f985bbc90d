"""The loopback guard really refuses the outside world."""

from __future__ import annotations

import socket

import pytest
import requests

from tests.plugins.netguard import NetworkAccessError


def test_connect_outside_loopback_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(NetworkAccessError):
            s.connect(("93.184.216.34", 443))


def test_name_lookup_outside_loopback_is_refused() -> None:
    with pytest.raises(NetworkAccessError):
        socket.getaddrinfo("webexapis.com", 443)


def test_requests_to_webex_is_refused() -> None:
    with pytest.raises((NetworkAccessError, requests.exceptions.ConnectionError)) as info:
        requests.get("https://webexapis.com/v1/people/me", timeout=1)
    assert "only loopback" in str(info.value)


def test_loopback_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
