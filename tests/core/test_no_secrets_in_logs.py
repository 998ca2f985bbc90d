"""A whole run at DEBUG leaves no token, code, secret or verifier in the logs (R-22, F-5).

Connect through the code flow, refresh, fail (500, then a revoked grant) and sweep, with the
root logger at DEBUG and the real redacting handler installed; then search its output. A second,
unfiltered handler on our own loggers shows that our code never even tries to log a secret, so
the redactor is a second line of defence, not the only one.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import Integration
from tests.plugins.tokens import make_client
from tests.plugins.tokens import run_code_flow
from tokenbot.core.clock import FrozenClock
from tokenbot.core.logs import configure_logging
from tokenbot.core.logs import forget_secret
from tokenbot.core.models import Account
from tokenbot.core.policy import RefreshPolicy
from tokenbot.core.refresher import refresh_account
from tokenbot.core.store import TokenStore
from tokenbot.core.store import token_context
from tokenbot.core.sweep import sweep
from tokenbot.core.token_service import TokenService

DAY = 86400


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Install the real logging setup at DEBUG into a StringIO; restore the root afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    forget_secret()  # start from an empty registry: nothing is redacted by luck
    stream = io.StringIO()
    configure_logging("DEBUG", "text", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


class _Raw(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


def _stored_tokens(store: TokenStore, account_id: int) -> list[str]:
    with store.db.read() as session:
        row = session.get(Account, account_id)
        assert row is not None
        out = []
        for column in ("access_token", "refresh_token"):
            value = getattr(row, f"{column}_enc")
            if value:
                out.append(
                    store.cipher.decrypt(value, context=token_context(row.person_id, column))
                )
        return out


def test_a_whole_run_logs_no_secret(
    log_stream: io.StringIO,
    store: TokenStore,
    clock: FrozenClock,
    policy: RefreshPolicy,
    emulator: EmulatorHandle,
    integration: Integration,
) -> None:
    raw = _Raw()
    ours = logging.getLogger("tokenbot.core")
    ours.addHandler(raw)
    try:
        emulator.settings(rotate_refresh_tokens=True)
        client = make_client(emulator, integration, timeout=1.0)
        secrets = [integration.client_secret]

        flow = run_code_flow(emulator, client, "alice@example.com")
        secrets += [flow.code, flow.verifier]
        sent_at = clock.now()
        tokens = client.exchange_code(flow.code, code_verifier=flow.verifier)
        assert tokens.refresh_token
        secrets += [tokens.access_token, tokens.refresh_token]
        account = store.save_connected(
            client.identify(tokens.access_token), client.scopes, tokens, sent_at=sent_at
        )

        clock.advance(DAY + 1)
        assert sweep(store, client, clock=clock, policy=policy, owner="t").count("refreshed") == 1
        secrets += _stored_tokens(store, account.id)

        service = TokenService(store, client, clock=clock, policy=policy)
        seen = service.access_token(account.id)
        secrets += [service.after_401(account.id, seen)]
        secrets += _stored_tokens(store, account.id)

        clock.advance(DAY + 1)
        emulator.fault("/v1/access_token", method="POST", status=500)
        assert sweep(store, client, clock=clock, policy=policy, owner="t").count("failed") == 1
        emulator.revoke(email="alice@example.com")
        outcome = refresh_account(
            store, client, account.id, clock=clock, policy=policy, owner="t", force=True
        )
        assert outcome.result == "needs_reauth"
    finally:
        ours.removeHandler(raw)

    output = log_stream.getvalue()
    # The run did log, at DEBUG, from our code and from the HTTP stack.
    assert (
        "tokenbot.core.refresher" in output
        and "tokenbot.core.oauth" in output
        and "urllib3" in output
    )
    assert "needs a new login" in output
    secrets = [s for s in set(secrets) if s]
    assert len(secrets) >= 9
    leaked = [s[:6] + "..." for s in secrets if s in output]
    assert not leaked, f"secrets in the redacted log output: {leaked}"
    raw_text = "\n".join(raw.lines)
    assert raw.lines
    leaked_raw = [s[:6] + "..." for s in secrets if s in raw_text]
    assert not leaked_raw, f"our code tried to log secrets: {leaked_raw}"
