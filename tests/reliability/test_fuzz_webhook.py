"""Fuzz the webhook endpoint: random bodies, headers and signatures, valid ones included.

Hypothesis sends raw bytes, random JSON and Webex-like envelopes with random fields, each under
a valid signature, none, a random one, or a near miss (upper case, cut short, keyed with another
secret), with random content types. The endpoint runs on the real bot (its state store on a
real SQLite file), with a 1 KiB body cap so that sizes cross it.

Proven, for every example: no 5xx, no traceback, the webhook secret never in the answer;
an oversized body is refused with 413 before its signature counts; any body without a valid
signature is refused with 401 (nothing parsed, nothing queued); a validly signed body that is
not JSON gets 400.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.plugins.bot import SECRET
from tests.reliability.leaks import assert_clean
from tokenbot.bot.service import Bot
from tokenbot.bot.webhook import create_webhook_app

# Examples per run: the short form runs in `make test`, the long one in `make soak`.
SIZES = [
    pytest.param(100, id="short"),
    pytest.param(5000, id="soak", marks=[pytest.mark.soak, pytest.mark.timeout(1800)]),
]
PATH = "/webhooks/webex"
CAP = 1024
HOOK_ID = "HOOK-1"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
stamps = st.sampled_from(["2026-01-01T09:59:00.000Z", "2025-01-01T00:00:00.000Z", "yesterday"])
data = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=40)},
    optional={
        "created": stamps,
        "roomId": st.text(max_size=40),
        "personEmail": st.emails(),
        "roomType": st.sampled_from(["group", "direct"]),
    },
)
well_formed = st.fixed_dictionaries(
    {
        "id": st.sampled_from([HOOK_ID, "HOOK-2"]),
        "resource": st.sampled_from(["messages", "rooms", "memberships"]),
        "event": st.sampled_from(["created", "deleted", "updated"]),
        "data": data,
    },
    optional={"name": st.text(max_size=20), "status": st.sampled_from(["active", "inactive"])},
)
mangled = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from([HOOK_ID, "HOOK-2"]) | json_values,
        "resource": st.sampled_from(["messages", "rooms"]) | json_values,
        "event": st.sampled_from(["created", "deleted"]) | json_values,
        "data": data | json_values,
    },
)
bodies = st.one_of(
    well_formed.map(lambda v: json.dumps(v).encode()),
    mangled.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=2 * CAP),
    st.text(max_size=2 * CAP).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
# Half the examples are validly signed: they are the ones that reach the parser.
signings = st.sampled_from(["valid"] * 5 + ["missing", "upper", "cut", "other-secret", "random"])
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "",
    ]
)


def _signature(kind: str, body: bytes, noise: str) -> str | None:
    good = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    return {
        "valid": good,
        "missing": None,
        "upper": good.upper(),
        "cut": good[:-1],
        "other-secret": hmac.new(b"not-the-secret", body, hashlib.sha1).hexdigest(),
        "random": noise,
    }[kind]


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return True


@pytest.mark.parametrize("examples", SIZES)
def test_no_delivery_crashes_the_endpoint_leaks_or_gets_past_the_signature(
    make_bot: Callable[..., Bot], examples: int
) -> None:
    # Not started: accepted deliveries just wait in a queue too large to fill (no 503).
    bot = make_bot(max_body_bytes=CAP, queue_size=100_000)
    bot.state.set_values({"webhook_id": HOOK_ID})
    http = create_webhook_app(bot).test_client()

    @settings(max_examples=examples, deadline=None, database=None)
    @given(
        body=bodies,
        signing=signings,
        noise=header_text,
        content_type=content_types,
        extra=st.dictionaries(
            st.sampled_from(["X-Forwarded-For", "X-Spark-Signature-256", "User-Agent"]),
            header_text,
            max_size=2,
        ),
    )
    def deliver(
        body: bytes, signing: str, noise: str, content_type: str, extra: dict[str, str]
    ) -> None:
        headers: dict[str, Any] = dict(extra)
        signature = _signature(signing, body, noise)
        if signature is not None:
            headers["X-Spark-Signature"] = signature
        if content_type:
            headers["Content-Type"] = content_type
        # As a stream: given `data`, the test client would build its own multipart body.
        response = http.post(
            PATH, input_stream=io.BytesIO(body), content_length=len(body), headers=headers
        )
        event(f"status {response.status_code}")
        assert_clean(response, [SECRET])
        valid = signing == "valid"
        if len(body) > CAP:
            assert response.status_code == 413
        elif not valid:
            assert response.status_code == 401
        elif not _is_json(body):
            assert response.status_code == 400
        else:
            assert response.status_code in (200, 202, 400, 403)

    deliver()
