"""Exactly once across processes: two OS processes, ten threads each, one refresh (R-09).

Each child builds its own store, OAuth client and TokenService against the same database and
the emulator, starts ten threads that wait on a shared "go" file, and then all ask for the
token of an account that is due. Webex (the emulator) must see exactly one refresh, and no
`invalid_grant`, with rotation on: a second refresh with the same token would fail loudly.
"""

from __future__ import annotations

from pathlib import Path

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import SharedSetup
from tests.plugins.tokens import token_calls
from tests.plugins.tokens import wait_until
from tokenbot.core.logs import fingerprint


def test_two_processes_of_ten_threads_refresh_once(
    shared_setup: SharedSetup, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.settings(rotate_refresh_tokens=True)
    # The token call is slow, so every thread arrives while it is in flight.
    emulator.fault("/v1/access_token", method="POST", delay_seconds=0.5)
    go = tmp_path / "go"
    children = [
        shared_setup.spawn(
            tmp_path,
            f"child{n}",
            shared_setup.child_config(
                emulator, mode="hammer", threads=10, go=str(go), ready=str(tmp_path / f"r{n}")
            ),
        )
        for n in range(2)
    ]
    try:
        wait_until(
            lambda: all((tmp_path / f"r{n}").exists() for n in range(2)),
            timeout=60,
            what="both children to be ready",
        )
        go.touch()
        results = [child.result(timeout=90) for child in children]
    finally:
        for child in children:
            child.kill()

    assert [r["errors"] for r in results] == [[], []]
    refreshes = token_calls(emulator, "refresh_token")
    assert len(refreshes) == 1, refreshes
    assert [c["status"] for c in refreshes] == [200]
    # All twenty callers got the one new token, which is the one stored.
    current = shared_setup.store.access_grant(shared_setup.account_id).access_token
    fingerprints = [f for r in results for f in r["tokens"]]
    assert len(fingerprints) == 20
    assert set(fingerprints) == {fingerprint(current)}
    assert shared_setup.client.identify(current).email == "alice@example.com"
