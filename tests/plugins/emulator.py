"""The emulator as fixtures: one server per session, reset before each test that uses it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tokenbot.emulator import EmulatorServer


class EmulatorHandle:
    """A test's view of the running emulator: its URLs and the control API.

    Args:
        server: the running emulator server.
    """

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.url = server.url
        self.api_url = server.api_url
        self._http = requests.Session()

    def control(self, method: str, path: str, json: Any = None) -> Any:
        """Call `/_emulator/<path>`; raise AssertionError with the body on non-2xx."""
        url = f"{self.url}/_emulator/{path.lstrip('/')}"
        response = self._http.request(method.upper(), url, json=json, timeout=10)
        if not 200 <= response.status_code < 300:
            raise AssertionError(
                f"emulator control {method} {path} -> {response.status_code}: {response.text}"
            )
        return response.json()

    def register_integration(
        self, redirect_uris: list[str], scopes: list[str] | None = None
    ) -> tuple[str, str]:
        """Register an integration with a random id and secret; return (id, secret)."""
        client_id = "C" + secrets.token_hex(32)
        client_secret = secrets.token_hex(32)
        body: dict[str, Any] = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": redirect_uris,
        }
        if scopes is not None:
            body["scopes"] = scopes
        self.control("POST", "integrations", body)
        return client_id, client_secret

    def mint_token(self, client_id: str, email: str, scopes: list[str]) -> dict[str, Any]:
        """Mint a grant directly; return the token response."""
        result: dict[str, Any] = self.control(
            "POST", "tokens", {"client_id": client_id, "email": email, "scopes": scopes}
        )
        return result

    def calls(self, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        """Return the call log, filtered by exact path and method."""
        params = {k: v for k, v in (("path", path), ("method", method)) if v}
        response = self._http.get(f"{self.url}/_emulator/calls", params=params, timeout=10)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def post_message(
        self,
        room_id: str,
        person_email: str,
        text: str | None = None,
        markdown: str | None = None,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        """Post a message as a sandbox person (webhooks fire); return the Message."""
        body: dict[str, Any] = {"roomId": room_id, "personEmail": person_email}
        for key, value in (("text", text), ("markdown", markdown), ("parentId", parent_id)):
            if value is not None:
                body[key] = value
        result: dict[str, Any] = self.control("POST", "messages", body)
        return result

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward."""
        self.control("POST", "clock", {"advance_seconds": seconds})

    def fault(
        self,
        path: str,
        method: str | None = None,
        status: int | None = None,
        delay_seconds: float | None = None,
        drop: bool = False,
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Inject a fault for the next `count` calls matching path (and method)."""
        body: dict[str, Any] = {"path": path, "drop": drop, "count": count}
        for key, value in (
            ("method", method),
            ("status", status),
            ("delay_seconds", delay_seconds),
            ("retry_after", retry_after),
        ):
            if value is not None:
                body[key] = value
        self.control("POST", "faults", body)

    def settings(self, **values: Any) -> dict[str, Any]:
        """Change settings; return all of them."""
        result: dict[str, Any] = self.control("POST", "settings", values)
        return result

    def revoke(self, email: str | None = None, client_id: str | None = None) -> int:
        """Revoke grants by person and/or client; return how many."""
        body = {k: v for k, v in (("email", email), ("client_id", client_id)) if v}
        return int(self.control("POST", "grants/revoke", body)["revoked"])

    def room_id(self, title: str) -> str:
        """Return the id of the room with this title."""
        for room in self.control("GET", "rooms")["items"]:
            if room["title"] == title:
                return str(room["id"])
        raise AssertionError(f"no emulator room titled {title!r}")

    def person(self, email: str) -> dict[str, Any]:
        """Return the Person with this email."""
        for person in self.control("GET", "people")["items"]:
            if email.lower() in person["emails"]:
                return dict(person)
        raise AssertionError(f"no emulator person {email!r}")

    def close(self) -> None:
        """Release the HTTP session."""
        self._http.close()


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """Run one emulator for the session on a free loopback port."""
    server = EmulatorServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> Iterator[EmulatorHandle]:
    """Reset the session's emulator to its seed and hand the test a control handle."""
    handle = EmulatorHandle(emulator_server)
    handle.control("POST", "reset")
    try:
        yield handle
    finally:
        handle.close()
