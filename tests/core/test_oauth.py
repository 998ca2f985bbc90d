"""The Webex OAuth client: request shapes and error classification, then the real flows.

First against a scripted stub (a stdlib HTTP server on loopback) that answers exactly what each
test scripts, including answers the emulator cannot give (HTML error pages, malformed JSON);
then over real HTTP against the emulator: code flow with PKCE, refresh, identify, faults.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from tests.plugins.emulator import EmulatorHandle
from tests.plugins.tokens import Integration
from tests.plugins.tokens import make_client
from tests.plugins.tokens import run_code_flow
from tests.plugins.tokens import settle_faults
from tests.plugins.tokens import token_calls
from tokenbot.core.errors import FatalOAuthError
from tokenbot.core.errors import OAuthAnswerLost
from tokenbot.core.errors import OAuthError
from tokenbot.core.errors import TransientOAuthError
from tokenbot.core.oauth import WebexOAuthClient
from tokenbot.core.oauth import parse_retry_after

CLIENT_ID = "Cstubclientid0001"
CLIENT_SECRET = "stub-client-secret-value-0001"
REDIRECT = "http://127.0.0.1:2000/redirect.html"
SCOPES = ("spark:people_read", "spark:messages_write")
REFRESH = "stub-refresh-token-AAAAAAAAAAAAAAAA"


@dataclass
class Answer:
    """One scripted answer: status, JSON or raw body, headers; or a dropped connection/hang."""

    status: int = 200
    json_body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    hang: bool = False


class Stub:
    """A scripted HTTP server: each request takes the next answer and is recorded."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                stub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "form": {k: v[0] for k, v in parse_qs(body).items()},
                        "headers": dict(self.headers),
                    }
                )
                answer = stub.answers.pop(0) if stub.answers else Answer(status=599)
                if answer.hang:
                    stub.release.wait(10)
                if answer.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = (
                    answer.raw if answer.raw is not None else json.dumps(answer.json_body).encode()
                )
                self.send_response(answer.status)
                content_type = "application/json" if answer.raw is None else "text/html"
                self.send_header("Content-Type", content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def client(self, timeout: float = 5.0) -> WebexOAuthClient:
        return WebexOAuthClient(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            authorize_url=f"{self.url}/v1/authorize",
            token_url=f"{self.url}/v1/access_token",
            api_base_url=f"{self.url}/v1/",
            redirect_uri=REDIRECT,
            scopes=SCOPES,
            timeout_seconds=timeout,
        )


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(5)


def _token(**extra: Any) -> dict[str, Any]:
    body = {
        "access_token": "stub-access-token-BBBBBBBBBBBBBBBB",
        "expires_in": 1209599,
        "refresh_token": "stub-refresh-token-CCCCCCCCCCCCCCCC",
        "refresh_token_expires_in": 7775999,
        "token_type": "Bearer",
    }
    body.update(extra)
    return body


def _all_text(exc: BaseException) -> str:
    """The messages and reprs of an exception and of everything it chains to."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


# -- authorization URL -------------------------------------------------------------------------


def test_authorization_url_carries_every_field_and_an_s256_challenge(stub: Stub) -> None:
    client = stub.client()
    verifier = client.new_verifier()
    url = client.authorization_url(state="state-123", code_verifier=verifier)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{stub.url}/v1/authorize"
    assert {k: v[0] for k, v in query.items()} == {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "spark:people_read spark:messages_write",
        "state": "state-123",
        "code_challenge": base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        .rstrip(b"=")
        .decode(),
        "code_challenge_method": "S256",
    }
    # Webex documents scopes separated by %20, and the verifier itself never travels.
    assert "scope=spark%3Apeople_read%20spark%3Amessages_write" in parts.query
    assert verifier not in url
    assert stub.requests == []


def test_verifiers_are_43_urlsafe_characters_and_unique(stub: Stub) -> None:
    client = stub.client()
    verifiers = {client.new_verifier() for _ in range(1000)}
    assert len(verifiers) == 1000
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert all(len(v) == 43 and set(v) <= allowed for v in verifiers)


def test_the_client_refuses_a_single_scope_string() -> None:
    with pytest.raises(TypeError):
        WebexOAuthClient(
            client_id="c",
            client_secret="s",
            authorize_url="http://127.0.0.1/a",
            token_url="http://127.0.0.1/t",
            api_base_url="http://127.0.0.1/v1/",
            redirect_uri=REDIRECT,
            scopes="spark:all",
        )


def test_repr_shows_no_secret(stub: Stub) -> None:
    assert CLIENT_SECRET not in repr(stub.client())


# -- token endpoint: request shapes ------------------------------------------------------------


def test_exchange_code_posts_a_form_with_client_credentials_and_verifier(stub: Stub) -> None:
    stub.answers.append(Answer(json_body=_token()))
    tokens = stub.client().exchange_code("the-code-1234567890", code_verifier="v" * 43)
    (request,) = stub.requests
    assert request["method"] == "POST"
    assert request["path"] == "/v1/access_token"
    assert request["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert "Authorization" not in request["headers"]
    assert request["form"] == {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": "the-code-1234567890",
        "redirect_uri": REDIRECT,
        "code_verifier": "v" * 43,
    }
    assert tokens.access_token == "stub-access-token-BBBBBBBBBBBBBBBB"
    assert tokens.refresh_token == "stub-refresh-token-CCCCCCCCCCCCCCCC"
    assert tokens.expires_in == 1209599
    assert tokens.refresh_token_expires_in == 7775999
    assert "stub-access-token" not in repr(tokens)


def test_refresh_posts_the_refresh_grant_without_scope(stub: Stub) -> None:
    stub.answers.append(Answer(json_body=_token()))
    stub.client().refresh(REFRESH)
    (request,) = stub.requests
    assert request["form"] == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH,
    }


def test_a_refresh_answer_without_refresh_token_keeps_none(stub: Stub) -> None:
    body = _token()
    del body["refresh_token"]
    del body["refresh_token_expires_in"]
    stub.answers.append(Answer(json_body=body))
    tokens = stub.client().refresh(REFRESH)
    assert tokens.refresh_token is None
    assert tokens.refresh_token_expires_in is None
    assert tokens.access_token == "stub-access-token-BBBBBBBBBBBBBBBB"


def test_an_answer_without_expires_in_has_an_unknown_lifetime_not_an_error(stub: Stub) -> None:
    body = _token()
    del body["expires_in"]
    stub.answers.append(Answer(json_body=body))
    tokens = stub.client().refresh(REFRESH)
    assert tokens.expires_in is None and tokens.access_token
    stub.answers.append(Answer(json_body=_token(expires_in="soon")))
    with pytest.raises(OAuthError):  # a lifetime that is not a number is still refused
        stub.client().refresh(REFRESH)


# -- token endpoint: classification ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "invalid_grant"),
        (401, "invalid_grant"),
        (401, "invalid_client"),
        (400, "unauthorized_client"),
    ],
)
def test_rejections_of_grant_or_client_are_fatal(stub: Stub, status: int, error: str) -> None:
    description = f"The refresh token {REFRESH} provided is expired, revoked or invalid."
    stub.answers.append(
        Answer(status=status, json_body={"error": error, "error_description": description})
    )
    with pytest.raises(FatalOAuthError) as caught:
        stub.client().refresh(REFRESH)
    assert caught.value.error == error
    assert str(status) in str(caught.value)
    # Even when Webex echoes the token, our message does not.
    assert REFRESH not in _all_text(caught.value)
    assert CLIENT_SECRET not in _all_text(caught.value)


@pytest.mark.parametrize(
    "answer",
    [
        Answer(status=500, json_body={"message": "boom"}),
        Answer(status=502, raw=b"<html>bad gateway</html>"),
        Answer(status=503, json_body={"error": "temporarily_unavailable"}),
    ],
    ids=["500-json", "502-html", "503-error"],
)
def test_server_errors_are_transient(stub: Stub, answer: Answer) -> None:
    stub.answers.append(answer)
    with pytest.raises(TransientOAuthError) as caught:
        stub.client().refresh(REFRESH)
    assert str(answer.status) in str(caught.value)
    assert caught.value.retry_after is None


def test_429_is_transient_and_carries_retry_after(stub: Stub) -> None:
    # A 429 JSON body without "error" must not be mistaken for a token.
    stub.answers.append(
        Answer(
            status=429, json_body={"message": "Too Many Requests"}, headers={"Retry-After": "30"}
        )
    )
    with pytest.raises(TransientOAuthError) as caught:
        stub.client().refresh(REFRESH)
    assert caught.value.retry_after == 30


def test_a_hang_past_the_timeout_is_transient(stub: Stub) -> None:
    stub.answers.append(Answer(hang=True, json_body=_token()))
    with pytest.raises(OAuthAnswerLost) as caught:
        stub.client(timeout=0.3).refresh(REFRESH)
    assert "0.3 s" in str(caught.value)
    assert REFRESH not in _all_text(caught.value)


def test_a_dropped_connection_is_transient(stub: Stub) -> None:
    stub.answers.append(Answer(drop=True))
    # The request reached the server: its answer, not the request, was lost.
    with pytest.raises(OAuthAnswerLost):
        stub.client().refresh(REFRESH)


def test_a_refused_connection_is_transient() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = WebexOAuthClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        authorize_url=f"http://127.0.0.1:{port}/v1/authorize",
        token_url=f"http://127.0.0.1:{port}/v1/access_token",
        api_base_url=f"http://127.0.0.1:{port}/v1/",
        redirect_uri=REDIRECT,
        scopes=SCOPES,
        timeout_seconds=2,
    )
    with pytest.raises(TransientOAuthError) as caught:
        client.refresh(REFRESH)
    # Nothing was sent, so nothing can have been rotated.
    assert not isinstance(caught.value, OAuthAnswerLost)


@pytest.mark.parametrize(
    "answer",
    [
        Answer(status=400, json_body={"error": "invalid_request"}),
        Answer(status=403, json_body={"message": "forbidden"}),
        Answer(status=200, raw=b"<html>not json</html>"),
        Answer(status=200, json_body=["not", "an", "object"]),
        Answer(status=200, json_body={"expires_in": 10}),
        Answer(status=200, json_body={"access_token": "a-token-xxxxxxxx", "expires_in": "soon"}),
    ],
    ids=["invalid_request", "403", "html-200", "list-200", "no-access-token", "bad-expires"],
)
def test_anything_else_is_a_plain_oauth_error(stub: Stub, answer: Answer) -> None:
    stub.answers.append(answer)
    with pytest.raises(OAuthError) as caught:
        stub.client().refresh(REFRESH)
    assert not isinstance(caught.value, FatalOAuthError | TransientOAuthError)
    assert REFRESH not in _all_text(caught.value)


# -- people/me ---------------------------------------------------------------------------------


def test_identify_reads_people_me_with_the_bearer_token(stub: Stub) -> None:
    stub.answers.append(
        Answer(
            json_body={
                "id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hbGljZQ",
                "emails": ["alice@example.com"],
                "displayName": "Alice",
                "orgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vcmc",
            }
        )
    )
    identity = stub.client().identify("access-token-DDDDDDDDDDDD")
    (request,) = stub.requests
    assert request["method"] == "GET"
    assert request["path"] == "/v1/people/me"
    assert request["headers"]["Authorization"] == "Bearer access-token-DDDDDDDDDDDD"
    assert identity.person_id == "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hbGljZQ"
    assert identity.email == "alice@example.com"
    assert identity.display_name == "Alice"
    assert identity.org_id == "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9vcmc"


def test_identify_with_a_dead_token_is_fatal(stub: Stub) -> None:
    stub.answers.append(
        Answer(
            status=401,
            json_body={"message": "The request requires a valid access token."},
        )
    )
    with pytest.raises(FatalOAuthError) as caught:
        stub.client().identify("access-token-DDDDDDDDDDDD")
    assert caught.value.error == "invalid_token"


def test_identify_server_error_is_transient(stub: Stub) -> None:
    stub.answers.append(Answer(status=503, json_body={"message": "down"}))
    with pytest.raises(TransientOAuthError):
        stub.client().identify("access-token-DDDDDDDDDDDD")


def test_identify_without_email_is_an_error(stub: Stub) -> None:
    stub.answers.append(Answer(json_body={"id": "x", "emails": []}))
    with pytest.raises(OAuthError):
        stub.client().identify("access-token-DDDDDDDDDDDD")


# -- Retry-After -------------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:00 GMT", now=now) == 60
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("-5") == 0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("1e300") == 86_400  # capped: no overflow, no years-long pause


# -- against the emulator ----------------------------------------------------------------------


def test_full_code_flow_against_the_emulator(
    emulator: EmulatorHandle, oauth_client: WebexOAuthClient, integration: Integration
) -> None:
    flow = run_code_flow(emulator, oauth_client, "alice@example.com")
    query = {k: v[0] for k, v in parse_qs(urlsplit(flow.authorize_url).query).items()}
    assert query["scope"].split() == list(integration.scopes)
    assert query["redirect_uri"] == integration.redirect_uri
    assert flow.location.startswith(integration.redirect_uri + "?")
    tokens = oauth_client.exchange_code(flow.code, code_verifier=flow.verifier)
    assert tokens.access_token and tokens.refresh_token
    assert tokens.expires_in > 0 and tokens.refresh_token_expires_in
    identity = oauth_client.identify(tokens.access_token)
    alice = emulator.person("alice@example.com")
    assert identity.person_id == alice["id"]
    assert identity.email == "alice@example.com"
    (call,) = token_calls(emulator, "authorization_code")
    assert call["status"] == 200

    refreshed = oauth_client.refresh(tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    assert oauth_client.identify(refreshed.access_token).person_id == alice["id"]
    assert len(token_calls(emulator)) == 1


def test_the_emulator_refuses_a_code_with_the_wrong_verifier_or_twice(
    emulator: EmulatorHandle, oauth_client: WebexOAuthClient
) -> None:
    flow = run_code_flow(emulator, oauth_client, "bob@example.com")
    with pytest.raises(FatalOAuthError) as caught:
        oauth_client.exchange_code(flow.code, code_verifier=oauth_client.new_verifier())
    assert caught.value.error == "invalid_grant"
    flow = run_code_flow(emulator, oauth_client, "bob@example.com")
    oauth_client.exchange_code(flow.code, code_verifier=flow.verifier)
    with pytest.raises(FatalOAuthError) as caught:
        oauth_client.exchange_code(flow.code, code_verifier=flow.verifier)
    assert caught.value.error == "invalid_grant"


def test_a_wrong_client_secret_is_fatal_invalid_client(
    emulator: EmulatorHandle, integration: Integration
) -> None:
    tokens = emulator.mint_token(integration.client_id, "carol@example.com", ["spark:people_read"])
    wrong = Integration(
        integration.client_id, "0" * 64, integration.redirect_uri, integration.scopes
    )
    with pytest.raises(FatalOAuthError) as caught:
        make_client(emulator, wrong).refresh(tokens["refresh_token"])
    assert caught.value.error == "invalid_client"
    assert "0" * 64 not in _all_text(caught.value)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 500}, TransientOAuthError),
        ({"status": 503}, TransientOAuthError),
        ({"status": 429, "retry_after": 42}, TransientOAuthError),
        ({"delay_seconds": 1.5}, OAuthAnswerLost),
        ({"drop": True}, OAuthAnswerLost),
    ],
    ids=["500", "503", "429", "hang", "drop"],
)
def test_emulator_faults_are_classified(
    emulator: EmulatorHandle,
    integration: Integration,
    fault: dict[str, Any],
    expected: type[Exception],
) -> None:
    client = make_client(emulator, integration, timeout=1.0)
    tokens = emulator.mint_token(integration.client_id, "dave@example.com", ["spark:people_read"])
    emulator.fault("/v1/access_token", method="POST", **fault)
    with pytest.raises(expected) as caught:
        client.refresh(tokens["refresh_token"])
    if "retry_after" in fault:
        assert getattr(caught.value, "retry_after", None) == 42
    assert tokens["refresh_token"] not in _all_text(caught.value)
    # The fault was one-shot: the same refresh token still works (rotation is off).
    assert client.refresh(tokens["refresh_token"]).access_token
    settle_faults(emulator)


# -- client authentication ---------------------------------------------------------------------


def test_client_secret_basic_works_where_the_body_form_is_refused(
    emulator: EmulatorHandle, integration: Integration
) -> None:
    # A server that takes only HTTP Basic: the default (secret in the body) is refused...
    emulator.settings(accept_basic_auth=True, accept_body_auth=False)
    post = make_client(emulator, integration)
    with pytest.raises(FatalOAuthError) as refused:
        flow = run_code_flow(emulator, post, "alice@example.com")
        post.exchange_code(flow.code, code_verifier=flow.verifier)
    assert refused.value.error == "invalid_client" and refused.value.status == 401
    assert "WEBEX_CLIENT_SECRET" in (refused.value.hint or "")
    # ...and client_secret_basic signs in, refreshes and sends no secret in the body.
    basic = make_client(emulator, integration, token_auth_method="client_secret_basic")
    flow = run_code_flow(emulator, basic, "alice@example.com")
    tokens = basic.exchange_code(flow.code, code_verifier=flow.verifier)
    assert tokens.refresh_token
    assert basic.refresh(tokens.refresh_token).access_token


def test_an_unknown_token_auth_method_is_refused(
    emulator: EmulatorHandle, integration: Integration
) -> None:
    with pytest.raises(ValueError, match="token_auth_method must be one of"):
        make_client(emulator, integration, token_auth_method="private_key_jwt")


def test_webex_error_fields_are_kept_clean_and_capped(stub: Stub) -> None:
    body = {"error": "invalid_request", "error_description": "bad\r\nline " + "x" * 500}
    stub.answers.append(Answer(status=400, json_body=body))
    with pytest.raises(OAuthError) as failed:
        stub.client().exchange_code("code", code_verifier="v" * 43)
    assert failed.value.status == 400 and failed.value.error == "invalid_request"
    assert "\n" not in failed.value.description and "\r" not in failed.value.description
    assert failed.value.description.startswith("bad  line x")
    assert len(failed.value.description) <= 200
