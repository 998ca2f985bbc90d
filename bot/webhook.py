"""The webhook endpoint: check size and signature on the raw bytes, de-duplicate, queue, 2xx.

Order matters (docs/requirements.md R-30..R-33): the body size is capped before
anything reads it (413), the `X-Spark-Signature` HMAC-SHA1 is checked in constant time over the
exact bytes received *before* JSON parsing (401: nothing processed), and only then is the
payload parsed (400 when malformed). A delivery for a message some instance already took on is
acknowledged without acting (200), a full queue answers 503 so Webex tries again, and everything
else is acknowledged at once (202) and processed on the bot's worker pool.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import TYPE_CHECKING

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import jsonify
from flask import request

from tokenbot.bot.message import fold_email
from tokenbot.bot.message import webex_time

if TYPE_CHECKING:
    from tokenbot.bot.service import Bot

__all__ = [
    "SECURITY_HEADERS",
    "SIGNATURE_HEADER",
    "create_webhook_app",
    "verify_signature",
    "webhook_blueprint",
]

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Spark-Signature"


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """Return whether `signature` is the hex HMAC-SHA1 of `body` keyed with `secret`.

    The comparison is constant-time; case and length must match exactly (Webex sends lowercase).
    """
    if not signature or not secret:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def webhook_blueprint(bot: Bot, *, name: str = "bot_webhook") -> Blueprint:
    """Return a blueprint serving `POST <options.webhook_path>` for `bot`.

    The panel mounts it on its own server; `create_webhook_app` serves it alone.
    """
    options = bot.options
    if not options.webhook_secret:
        # Fail closed at start: without a secret nothing could be verified.
        raise ValueError("the webhook endpoint needs options.webhook_secret")
    secret = options.webhook_secret
    cap = options.max_body_bytes
    blueprint = Blueprint(name, __name__)

    @blueprint.post(options.webhook_path)
    def receive() -> tuple[Response, int] | Response:
        length = request.content_length
        if length is not None and length > cap:
            return _answer(bot, 413, "too_large")
        body = request.stream.read(cap + 1)
        if len(body) > cap:
            return _answer(bot, 413, "too_large")
        if not verify_signature(secret, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("webhook delivery rejected: missing or wrong signature")
            return _answer(bot, 401, "bad_signature")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _answer(bot, 400, "malformed")
        except RecursionError:
            # A signed body nested deeper than Python's parser goes (Webex never sends one).
            log.warning("webhook delivery rejected: JSON nested too deeply")
            return _answer(bot, 400, "too_deep")
        status, outcome = accept_delivery(bot, payload)
        return _answer(bot, status, outcome)

    return blueprint


def create_webhook_app(bot: Bot) -> Flask:
    """Return a Flask app serving only the webhook endpoint (tests, a bot-only process).

    Its answers, error pages included (405, 413, 500), carry the panel's security headers,
    with a policy that allows nothing at all: nothing here is meant for a browser.
    """
    app = Flask("tokenbot_bot_webhook")
    # Werkzeug enforces it while reading too (belt and braces with the explicit check).
    app.config["MAX_CONTENT_LENGTH"] = bot.options.max_body_bytes
    app.register_blueprint(webhook_blueprint(bot))
    app.after_request(_security_headers)
    return app


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def _security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def accept_delivery(bot: Bot, payload: object) -> tuple[int, str]:
    """Decide on a verified, parsed delivery; return the HTTP status and the outcome."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        return 400, "malformed"
    message_id = payload["data"].get("id")
    if not isinstance(message_id, str) or not message_id:
        return 400, "malformed"
    resource = payload.get("resource")
    if resource == "attachmentActions" and payload.get("event") == "created":
        return _accept_card_action(bot, payload, message_id)
    if resource != "messages" or payload.get("event") != "created":
        return 200, "not_a_new_message"
    registered = bot.registered_webhook_id()
    if registered and payload.get("id") not in (None, registered):
        log.warning("delivery from a webhook we did not register; ignored")
        return 403, "unknown_webhook"
    if _too_old(bot, payload["data"].get("created")):
        log.warning("delivery of an old message, or of one without a readable time, ignored")
        return 200, "stale"
    data = payload["data"]
    # What the envelope says already decides many messages: no fetch, no answer for them.
    skipped = bot.screen(
        message_id,
        str(data.get("personId") or ""),
        fold_email(str(data.get("personEmail") or "")),
        str(data.get("roomId") or ""),
    )
    if skipped is not None:
        return 200, skipped
    if not bot.state.claim_message(message_id, source="webhook"):
        return 200, "duplicate"
    urgent = bot.is_owner(str(data.get("personId") or ""))
    if not bot.submit_id(message_id, intake="webhook", urgent=urgent):
        bot.state.release_message(message_id)
        return 503, "queue_full"
    return 202, "accepted"


def _accept_card_action(bot: Bot, payload: dict[str, object], action_id: str) -> tuple[int, str]:
    """Queue a card submit (`attachmentActions`/`created`): checked, de-duplicated like messages."""
    registered = bot.registered_card_webhook_id()
    if registered and payload.get("id") not in (None, registered):
        log.warning("card submit from a webhook we did not register; ignored")
        return 403, "unknown_webhook"
    data = payload["data"]
    if _too_old(bot, data.get("created") if isinstance(data, dict) else None):
        log.warning("delivery of an old card submit ignored (replay?)")
        return 200, "stale"
    fields = data if isinstance(data, dict) else {}
    outcome = bot.take_card_action(
        action_id,
        card_id=str(fields.get("messageId") or ""),
        person_id=str(fields.get("personId") or ""),
        email="",
        room_id=str(fields.get("roomId") or ""),
        intake="webhook",
    )
    status = {"accepted": 202, "queue_full": 503}.get(outcome, 200)
    return status, outcome


def _too_old(bot: Bot, created: object) -> bool:
    """Tell whether a delivery fails the replay check: too old, or no time to check.

    A message without a `created` we can read cannot be proven fresh, so it is refused like
    a stale one (Webex always sends one).
    """
    limit = bot.options.max_event_age_seconds
    if not limit:
        return False
    moment = webex_time(created)
    if moment is None:
        return True
    return (bot.clock.now() - moment).total_seconds() > limit


def _answer(bot: Bot, status: int, outcome: str) -> tuple[Response, int]:
    if outcome != "accepted":
        bot.metrics.deliveries.labels(intake="webhook", outcome=outcome).inc()
    response = jsonify({"status": outcome})
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response, status
