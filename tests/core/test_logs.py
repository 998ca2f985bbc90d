"""No secret in any log (R-22): the real handler's output is captured and searched for canaries."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from tokenbot.core import logs
from tokenbot.core.errors import ConfigError
from tokenbot.core.logs import RedactingFilter
from tokenbot.core.logs import configure_logging
from tokenbot.core.logs import fingerprint
from tokenbot.core.logs import forget_secret
from tokenbot.core.logs import redact
from tokenbot.core.logs import register_secret

# Canaries caught by shape (never registered) and by registration.
ACCESS = "canaryAT_0a1b2c3d4e5f_PF84_org"
REFRESH = "canaryRT_9f8e7d6c5b4a_PF84_org"
CODE = "canaryCODE_77aa88bb"
STATE = "canarySTATE_55cc66dd"
VERIFIER = "canaryVERIFIER_x1y2z3w4v5"
CLIENT_SECRET = "canaryCLIENTSECRET_1234abcd"
REGISTERED = "canaryREGISTERED_q9w8e7r6"
WEBHOOK = "canaryWEBHOOK_secret_00ff"
CANARIES = [ACCESS, REFRESH, CODE, STATE, VERIFIER, CLIENT_SECRET, REGISTERED, WEBHOOK]


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Give the test the root logger and put it back as it was, filters included."""
    root = logging.getLogger()
    saved_handlers = list(root.handlers)
    saved_filters = {h: list(h.filters) for h in saved_handlers}
    saved_level = root.level
    yield
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
    for handler, filters in saved_filters.items():
        handler.filters[:] = filters
    root.setLevel(saved_level)
    forget_secret()


@pytest.fixture
def output(root_logging: None) -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", "text", stream=stream)
    return stream


def _log_everything() -> None:
    register_secret(REGISTERED)
    register_secret(WEBHOOK)
    app = logging.getLogger("tokenbot.test")
    # Plain message, %-args and f-strings.
    app.debug("webhook secret is " + WEBHOOK)
    app.info("registered value %s and %r", REGISTERED, {"nested": REGISTERED})
    app.info(f"calling with Authorization: Bearer {ACCESS}")
    app.debug("headers %s", {"Authorization": f"Bearer {ACCESS}", "Accept": "application/json"})
    app.warning("callback https://127.0.0.1:2000/oauth/callback?code=%s&state=%s", CODE, STATE)
    app.debug(f"form body grant_type=authorization_code&code={CODE}&code_verifier={VERIFIER}")
    app.debug("form %s", f"client_id=abc&client_secret={CLIENT_SECRET}&refresh_token={REFRESH}")
    body = json.dumps({"access_token": ACCESS, "expires_in": 1209600, "refresh_token": REFRESH})
    app.debug("token response %s", body)
    app.debug("token dict %s", {"access_token": ACCESS, "refresh_token": REFRESH})
    app.info("extra fields", extra={"response": {"refresh_token": REFRESH}, "note": REGISTERED})
    # Exception text, from a message and from a traceback's locals-free frames.
    try:
        raise RuntimeError(f"refresh failed: {body} while holding {REGISTERED}")
    except RuntimeError:
        app.exception("refresh crashed")
    app.debug("where we are", stack_info=True, extra={"token_hint": f"token={ACCESS}"})
    # Third-party loggers, in their own formats.
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "http",
        "127.0.0.1",
        2001,
        "GET",
        f"/v1/authorize?state={STATE}&code_challenge=x",
        "HTTP/1.1",
        200,
        None,
    )
    logging.getLogger("werkzeug").info(
        '%s - - [%s] "%s" %s %s',
        "127.0.0.1",
        "01/Jan/2026 00:00:00",
        f"GET /oauth/callback?code={CODE}&state={STATE} HTTP/1.1",
        "302",
        "-",
    )
    logging.getLogger("requests_oauthlib.oauth2_session").debug(
        "Obtained token %s.", {"access_token": ACCESS, "refresh_token": REFRESH}
    )
    logging.getLogger("authlib").debug("Authorization: %s", f"Bearer {ACCESS}")
    logging.getLogger("apscheduler.executors.default").debug("job args %r", (REGISTERED,))


def _assert_clean(text: str) -> None:
    leaked = [canary for canary in CANARIES if canary in text]
    assert not leaked, f"leaked {leaked} in:\n{text}"
    # The redaction happened (rather than the lines going missing).
    for canary in CANARIES:
        assert f"[redacted sha256:{fingerprint(canary)}]" in text, canary


def test_text_output_has_no_canary(output: io.StringIO) -> None:
    _log_everything()
    text = output.getvalue()
    _assert_clean(text)
    assert "refresh crashed" in text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: refresh failed" in text
    assert "werkzeug" in text
    assert "urllib3.connectionpool" in text
    assert "expires_in" in text  # harmless fields stay readable


def test_json_output_is_one_valid_object_per_line_and_clean(root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    _log_everything()
    text = stream.getvalue()
    _assert_clean(text)
    entries = [json.loads(line) for line in text.splitlines()]
    assert len(entries) == 17
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    crashed = next(e for e in entries if e["message"] == "refresh crashed")
    assert crashed["level"] == "ERROR"
    assert "RuntimeError" in crashed["exception"]
    assert crashed["time"].endswith("+00:00")
    extra = next(e for e in entries if e["message"] == "extra fields")
    assert extra["note"] == f"[redacted sha256:{fingerprint(REGISTERED)}]"


def test_default_stream_is_stderr(root_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG")
    _log_everything()
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_clean(captured.err)


def test_configure_twice_adds_no_second_handler(output: io.StringIO) -> None:
    root = logging.getLogger()
    count = len(root.handlers)
    configure_logging("INFO", "json", stream=output)
    configure_logging("WARNING", "text", stream=output)
    assert len(root.handlers) == count
    assert root.level == logging.WARNING
    logging.getLogger("x").warning("once")
    assert output.getvalue().count("once") == 1
    for handler in root.handlers:
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1


def test_existing_root_handlers_get_the_filter(root_logging: None) -> None:
    other = io.StringIO()
    foreign = logging.StreamHandler(other)
    logging.getLogger().addHandler(foreign)
    configure_logging("DEBUG", stream=io.StringIO())
    logging.getLogger("lib").info("Authorization: Bearer %s", ACCESS)
    assert ACCESS not in other.getvalue()
    assert fingerprint(ACCESS) in other.getvalue()


def test_debug_is_filtered_out_at_info(output: io.StringIO) -> None:
    configure_logging("INFO", stream=output)
    logging.getLogger("x").debug("quiet")
    logging.getLogger("x").info("loud")
    assert "quiet" not in output.getvalue()
    assert "loud" in output.getvalue()


def test_bad_format_args_still_log_redacted(output: io.StringIO) -> None:
    register_secret(REGISTERED)
    logging.getLogger("x").info("two %s %s", REGISTERED)
    text = output.getvalue()
    assert "two %s %s" in text
    assert REGISTERED not in text
    assert fingerprint(REGISTERED) in text


def test_a_broken_record_is_kept_not_raised(output: io.StringIO) -> None:
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError(REGISTERED)

    record = logging.LogRecord("x", logging.INFO, __file__, 1, Hostile(), None, None)
    assert RedactingFilter().filter(record) is True
    logging.getLogger("x").info(Hostile())
    assert "redaction failed" in output.getvalue()
    assert REGISTERED not in output.getvalue()


def test_short_secrets_are_ignored_and_forgetting_works(root_logging: None) -> None:
    register_secret("short")
    register_secret(None)
    register_secret("")
    assert redact("a short word") == "a short word"
    register_secret(REGISTERED)
    assert REGISTERED not in redact(f"x {REGISTERED} y")
    forget_secret(REGISTERED)
    assert REGISTERED in redact(f"x {REGISTERED} y")


def test_longest_registered_secret_wins(root_logging: None) -> None:
    register_secret("abcdefgh")
    register_secret("abcdefgh-longer-one")
    longer = f"[redacted sha256:{fingerprint('abcdefgh-longer-one')}]"
    assert redact("abcdefgh-longer-one") == longer
    shorter = f"[redacted sha256:{fingerprint('abcdefgh')}]"
    assert redact("abcdefgh-long") == shorter + "-long"


@pytest.mark.parametrize("template", ["{}", "x{}", "{}y", "xx{}yy{}", "{}{}", "é{}\n{}"])
def test_registered_literals_are_found_anywhere(root_logging: None, template: str) -> None:
    register_secret(REGISTERED)
    text = redact(template.format(REGISTERED, REGISTERED))
    assert REGISTERED not in text
    assert text.count(fingerprint(REGISTERED)) == template.count("{}")


def test_registry_is_bounded(root_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_REGISTERED_SECRETS", 3)
    values = [f"secret-number-{n}" for n in range(4)]
    for value in values:
        register_secret(value)
    assert redact(values[0]) == values[0]
    assert all(value not in redact(value) for value in values[1:])


def test_register_from_many_threads(output: io.StringIO) -> None:
    values = [f"thread-secret-{n:04d}-zz" for n in range(200)]
    log = logging.getLogger("threads")

    def work(chunk: list[str]) -> None:
        for value in chunk:
            register_secret(value)
            log.info("value %s", value)

    threads = [threading.Thread(target=work, args=(values[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    text = output.getvalue()
    assert text.count("value [redacted sha256:") == 200
    assert not [v for v in values if v in text]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("error_code=42 and postcode=1234", "error_code=42 and postcode=1234"),
        ("grant_type=refresh_token&expires_in=60", "grant_type=refresh_token&expires_in=60"),
        ('{"expires_in": 1209600, "token_type": "Bearer"}', '"token_type": "Bearer"'),
        ("{'access_token': '', 'state': None}", "{'access_token': '', 'state': None}"),
    ],
)
def test_harmless_text_is_left_alone(text: str, kept: str) -> None:
    assert kept in redact(text)


def test_fingerprint_is_eight_hex_of_sha256() -> None:
    assert fingerprint("abc") == "ba7816bf"
    assert len(fingerprint(ACCESS)) == 8


def test_bad_level_or_format_is_a_config_error(root_logging: None) -> None:
    with pytest.raises(ConfigError, match="logging.level"):
        configure_logging("LOUD")
    with pytest.raises(ConfigError, match="logging.format"):
        configure_logging("INFO", "xml")
