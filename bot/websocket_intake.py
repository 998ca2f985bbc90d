"""Websocket intake: Webex's Mercury socket on the user's token, one listener across instances.

One thread per process runs this loop:

1. **Lease.** Take the database lease `listener:<group>` (`core.listener_lease`); without it,
   stand by and try again every third of the lease (a dead holder's lease lapses, so a standby
   takes over within `listener_lease_seconds`). The holder renews it while connected and stops
   listening the moment a renewal fails.
2. **Device.** Catalog, then our one named device (`bot.wdm`).
3. **Socket.** Connect (through `webex.proxy_url` when set), send the authorization frame with
   `Bearer <token>`, wait up to 30 s for `mercury.buffer_state`. Then **backfill** from the
   polling cursors on a worker (bounded by the poll budget), so what was posted while no socket
   was open is answered; the message claims make sure nothing is answered twice. The same
   reconciliation runs every `bot.reconcile_interval_seconds` on the listener's instance
   (`bot.heal`), which also tells a connected socket that delivers nothing (`bot.silence`).
4. **Frames.** JSON ping every 15 s, pong within 14 s. `conversation.activity`: metadata drops
   what needs no REST call (not a new message, our own posts by id, spaces outside
   `bot.allowed_spaces` for others, others' messages the screen drops: no command open to
   them, beyond flood control; unknown cluster), the rest is claimed, hydrated with
   `GET /v1/messages/{id}` (id built with the activity's cluster), acked after the hydration
   succeeded, and routed as every other intake does. `cardAction` (a card submit): the
   webhook's checks and claim (`Bot.take_card_action`: our card, the screen, deduped across
   intakes), then the dispatcher fetches the submit. Other frames are acked at once.
5. **Close codes.** 1000/1001/1005/1006/1011, pong loss and network errors: reconnect with
   backoff (1 s doubling to 32 s). 4401: one token refresh through the store, then reconnect.
   4400/4403: stop and show why. 4000 `replaced`: another socket took our device; do not fight
   it: give the lease up and stand by. A handshake 404: register the device again.
6. **Token refresh.** When the store's token changes (a refresh anywhere), reconnect with the
   new one; unacked frames come again and the backfill covers the gap.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.exceptions import InvalidStatus
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect

from tokenbot.bot.activity import Activity
from tokenbot.bot.activity import parse_activity
from tokenbot.bot.wdm import DeviceError
from tokenbot.bot.wdm import DeviceManager
from tokenbot.bot.websocket_metrics import WebsocketMetrics
from tokenbot.core.errors import NeedsReauth
from tokenbot.core.errors import TokenbotError
from tokenbot.core.listener_lease import Lease
from tokenbot.core.listener_lease import NamedLeases

if TYPE_CHECKING:
    from tokenbot.bot.service import Bot

__all__ = ["WebsocketIntake"]

log = logging.getLogger(__name__)

QUERY = "outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true"
PING_SECONDS = 15.0
PONG_SECONDS = 14.0
READY_SECONDS = 30.0
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 32.0
TOKEN_CHECK_SECONDS = 5.0
RECONNECT_CODES = {1000, 1001, 1005, 1006, 1011}
STOP_CODES = {4400: "bad request", 4403: "forbidden: the user is not entitled to Webex messaging"}
NEW_MESSAGE_VERBS = {"post", "share"}


@dataclass
class _Session:
    """One connected socket: what the loop needs to know about it."""

    ws: ClientConnection
    token: str
    send_lock: threading.Lock
    ping_id: str | None = None
    ping_sent_at: float = 0.0
    closed: bool = False


class _Stop(Exception):
    """The intake must stop (a permanent refusal); the message says why."""


class WebsocketIntake:
    """Hold the Mercury socket for `bot` while this instance holds the listener lease.

    Args:
        bot: The bot (client, state, identity, options, worker pool).
        leases: The database leases.
        owner: This instance's lease owner id.
        monotonic: Time source of the loop (tests pass a fake only for pure parts).
    """

    def __init__(
        self,
        bot: Bot,
        *,
        leases: NamedLeases,
        owner: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.options = bot.options
        self.leases = leases
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_name = f"listener:{self.options.instance_group}"
        self._monotonic = monotonic
        self.devices = DeviceManager(
            u2c_url=self.options.u2c_url,
            token=bot.client.access_token,
            token_after_401=bot.client.token_after_401,
            group=self.options.instance_group,
            timeout=getattr(bot.client, "_timeout", 15.0),
            proxy_url=self.options.proxy_url,
        )
        self.metrics = WebsocketMetrics(bot.metrics.registry)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease: Lease | None = None
        self._lease_renewed_at = 0.0
        self._session: _Session | None = None
        self._session_lock = threading.Lock()
        self.state = "starting"
        self.stopped_because: str | None = None
        self.reconnects = 0
        self.backfilled = 0
        # Mercury's keepalive (the JS SDK's pingInterval and pongTimeout); tests shorten them.
        self.ping_seconds = PING_SECONDS
        self.pong_seconds = PONG_SECONDS
        self.token_check_seconds = TOKEN_CHECK_SECONDS

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Tell whether the intake thread runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def holds_lease(self) -> bool:
        """Tell whether this instance is the listener (holds the lease): it reconciles."""
        return self._lease is not None

    @property
    def connected(self) -> bool:
        """Tell whether the socket is open and authorized now."""
        return self.state == "connected"

    def start(self) -> None:
        """Run the loop on a thread until `stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bot-websocket", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the socket, unregister our device, give the lease up."""
        self._stop.set()
        self._close_session(1000, "shutting down")
        if self._thread is not None:
            self._thread.join(timeout)
        if self._lease is not None:
            self._set_state("stopped")
            try:
                if self.devices.unregister():
                    self.metrics.devices.set(0)
                    self.bot.state.set_values({"websocket_devices": 0})
            except TokenbotError as error:
                log.warning("websocket: could not unregister our device: %s", error)
            try:
                self.leases.release(self._lease)
            except Exception:
                log.exception("websocket: could not release the listener lease")
            self._lease = None
        self.state = "stopped"

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while not self._stop.is_set():
            try:
                if not self._hold_lease():
                    self._set_state("standby")
                    self._stop.wait(max(1.0, self.options.listener_lease_seconds / 3))
                    continue
                if self.bot.identity.get() is None:
                    self._set_state("no identity")
                    self._stop.wait(2.0)
                    continue
                outcome = self._connect_and_listen()
            except _Stop as stop:
                self._stopped(str(stop))
                return
            except NeedsReauth as error:
                self.bot.record_error("websocket: needs_reauth")
                log.error("websocket: the bot identity needs a new login: %s", error)
                self.bot.identity.invalidate()
                self._set_state("needs login")
                self._stop.wait(10.0)
                continue
            except DeviceError as error:
                if error.permanent:
                    self._stopped(str(error))
                    return
                log.warning("websocket: %s", error)
                self.bot.record_error(f"websocket: {error.message[:200]}")
                outcome = "retry"
            except Exception as error:  # keep the intake alive; the cause is logged
                log.exception("websocket intake failed")
                self.bot.record_error(f"websocket failed: {type(error).__name__}")
                outcome = "retry"
            if self._stop.is_set():
                return
            if outcome == "connected":
                backoff = BACKOFF_FIRST  # it ran for a while: start the backoff afresh
                delay = 0.0 if self._quick_reconnect else BACKOFF_FIRST
            elif outcome == "now":
                delay = 0.0
            elif outcome == "replaced":
                self._give_up_lease()
                delay = self.options.listener_lease_seconds
            else:
                delay = backoff
                backoff = min(BACKOFF_MAX, backoff * 2)
            self.reconnects += 1
            self.metrics.reconnects.inc()
            self.bot.state.add_counters({"websocket_reconnects": 1})
            self._set_state("reconnecting")
            self._stop.wait(delay)

    _quick_reconnect = False
    _refreshed_for_4401_at = -1e9

    def _hold_lease(self) -> bool:
        seconds = self.options.listener_lease_seconds
        if self._lease is not None:
            if self._monotonic() - self._lease_renewed_at < seconds / 3:
                return True
            renewed = self.leases.renew(self._lease, seconds)
            if renewed is None:
                log.warning("websocket: the listener lease was taken over; standing by")
                self._lease = None
                self.devices.forget()
                return False
            self._lease = renewed
            self._lease_renewed_at = self._monotonic()
            return True
        taken = self.leases.take(self.lease_name, self.owner, seconds)
        if taken is None:
            return False
        log.info("websocket: this instance holds the listener lease")
        self._lease = taken
        self._lease_renewed_at = self._monotonic()
        return True

    def _give_up_lease(self) -> None:
        if self._lease is not None:
            self.leases.release(self._lease)
            self._lease = None
        self.devices.forget()

    def _connect_and_listen(self) -> str:
        """Run one socket from connect to close; return how to go on."""
        self._quick_reconnect = False
        self._set_state("registering")
        device = self.devices.ensure()
        self.metrics.devices.set(1)
        self.bot.state.set_values({"websocket_devices": 1})
        token = self.bot.client.access_token()
        url = str(device.get("webSocketUrl") or "")
        if not url.startswith(("wss://", "ws://")):
            raise DeviceError("the device has no websocket URL")
        url += ("&" if "?" in url else "?") + QUERY
        self._set_state("connecting")
        try:
            ws = connect(
                url,
                # Like requests for REST: the configured proxy, else the environment's.
                proxy=self.options.proxy_url or True,
                open_timeout=15,
                close_timeout=2,
                ping_interval=None,  # Mercury's keepalive is the JSON ping below
                max_size=4 * 1024 * 1024,
                user_agent_header="tokenbot",
                legacy=True,
            )
        except InvalidStatus as error:
            if error.response.status_code == 404:
                log.info("websocket: the registration is gone (404); registering again")
                self.devices.forget()
                return "now"
            raise DeviceError(f"the socket answered {error.response.status_code}") from error
        except (OSError, WebSocketException, TimeoutError) as error:
            log.warning("websocket: connect failed: %s", type(error).__name__)
            return "retry"
        session = _Session(ws=ws, token=token, send_lock=threading.Lock())
        with self._session_lock:
            self._session = session
        try:
            return self._listen(session)
        finally:
            with self._session_lock:
                self._session = None
            try:
                ws.close()
            except Exception:
                log.debug("websocket already closed")
            self.metrics.connected.set(0)

    def _listen(self, session: _Session) -> str:
        self._send(
            session,
            {
                "id": str(uuid.uuid4()),
                "type": "authorization",
                "data": {"token": f"Bearer {session.token}"},
            },
        )
        ready_by = self._monotonic() + READY_SECONDS
        ready = False
        last_ping = self._monotonic()
        token_checked = self._monotonic()
        while not self._stop.is_set():
            now = self._monotonic()
            if not ready and now > ready_by:
                log.warning("websocket: no buffer_state within %.0f s", READY_SECONDS)
                return "retry"
            if session.ping_id is not None and now - session.ping_sent_at > self.pong_seconds:
                log.warning("websocket: pong not received; reconnecting")
                self._quick_reconnect = True
                return "connected"
            if ready and now - last_ping >= self.ping_seconds and session.ping_id is None:
                session.ping_id = str(uuid.uuid4())
                session.ping_sent_at = last_ping = now
                self._send(session, {"id": session.ping_id, "type": "ping"})
            if ready and now - token_checked >= self.token_check_seconds:
                token_checked = now
                if not self._hold_lease():
                    return "lost_lease"
                if self.bot.client.access_token() != session.token:
                    log.info("websocket: the token was refreshed; reconnecting with the new one")
                    self._quick_reconnect = True
                    return "connected"
            wait = min(0.5, max(0.01, last_ping + self.ping_seconds - now))
            try:
                raw = session.ws.recv(timeout=wait)
            except TimeoutError:
                continue
            except ConnectionClosed as closed:
                return self._on_close(closed, ready)
            except OSError:
                return "connected" if ready else "retry"
            frame = _parse(raw)
            if frame is None:
                continue
            self._note_frame()
            if frame.get("type") == "pong":
                if frame.get("id") == session.ping_id:
                    session.ping_id = None
                continue
            data = frame.get("data") if isinstance(frame.get("data"), dict) else None
            event = data.get("eventType") if data else None
            if not ready:
                if event in ("mercury.buffer_state", "mercury.registration_status"):
                    ready = True
                    self._on_ready()
                    last_ping = self._monotonic()
                self._ack(session, frame)
                continue
            if event == "conversation.activity" and data is not None:
                self._on_activity(session, frame, data.get("activity"))
            else:
                self._ack(session, frame)
        return "stopped"

    def _on_close(self, closed: ConnectionClosed, ready: bool) -> str:
        code = closed.rcvd.code if closed.rcvd is not None else 1006
        reason = closed.rcvd.reason if closed.rcvd is not None else ""
        log.info("websocket closed: %s %s", code, reason)
        if code == 4401:
            now = self._monotonic()
            if now - self._refreshed_for_4401_at < 60.0:
                return "retry"  # refused again right after a refresh: back off, do not spin
            self._refreshed_for_4401_at = now
            token = self.bot.client.access_token()
            self.bot.client.token_after_401(token)  # one refresh through the store
            self._quick_reconnect = True
            return "connected"
        if code in STOP_CODES:
            raise _Stop(f"Webex closed the socket {code} ({STOP_CODES[code]}): {reason}")
        if code == 4000:
            log.warning("websocket: another socket replaced ours; not fighting it")
            return "replaced"
        if code in RECONNECT_CODES:
            return "connected" if ready else "retry"
        if code == 1003:
            raise _Stop(f"Webex rejected our last frame (1003): {reason}")
        return "retry"

    # -- frames ------------------------------------------------------------------------------

    def _on_ready(self) -> None:
        self._set_state("connected")
        now_iso = self.bot.clock.now().isoformat()
        self.metrics.connected.set(1)
        self.metrics.connected_since.set(time.time())
        self.bot.state.set_values(
            {
                "websocket_state": "connected",
                "websocket_connected_since": now_iso,
                "websocket_last_frame_at": now_iso,
            }
        )
        log.info("websocket: connected and authorized")
        healer = self.bot.healer
        if healer is not None:
            healer.intake_opened()  # the backfill below is its round; a fresh evidence window
        # Whatever arrived while no socket was open: read it from the polling cursors.
        threading.Thread(target=self._backfill, name="bot-websocket-backfill", daemon=True).start()

    def _backfill(self) -> None:
        try:
            report = self.bot.build_poller().poll_once()
        except Exception:
            log.exception("websocket: backfill failed")
            return
        if report.messages_queued:
            log.info("websocket: backfilled %d message(s)", report.messages_queued)
            self.backfilled += report.messages_queued
            self.metrics.backfilled.inc(report.messages_queued)
            self.bot.state.add_counters({"events_backfilled": report.messages_queued})

    def _on_activity(self, session: _Session, frame: dict[str, Any], raw: Any) -> None:
        catalog = self.devices.catalog
        found = parse_activity(raw, catalog.host_clusters if catalog else {})
        if found is not None and found.verb == "cardAction":
            self._on_card_action(session, frame, found)
            return
        outcome = self._settle(found)
        if outcome is not None:
            self._ack(session, frame)
            self.bot.metrics.deliveries.labels(intake="websocket", outcome=outcome).inc()
            self.bot.books.count("messages", outcome=outcome)
            return
        assert found is not None and found.message_id is not None
        message_id = found.message_id
        # Others pass the webhook's screen (commands open to them, flood control by person id;
        # it keeps its own books) before the fetch: their messages and presses share a bucket.
        skipped = self.bot.screen(
            message_id, found.person_id or "", found.actor_email or "", found.room_id or ""
        )
        if skipped is not None:
            self._ack(session, frame)
            self.bot.metrics.deliveries.labels(intake="websocket", outcome=skipped).inc()
            return
        if not self.bot.state.claim_message(message_id, source="websocket"):
            self._ack(session, frame)
            self.bot.metrics.deliveries.labels(intake="websocket", outcome="duplicate").inc()
            return
        received = self._monotonic()
        me = self.bot.identity.get()
        mine = me is not None and (
            found.actor_email == me.email or found.actor_uuid == _uuid_of(me.person_id)
        )
        accepted = self.bot.pool.submit(
            self._hydrate_and_process,
            session,
            frame,
            message_id,
            received,
            found.room_id if mine else None,
        )
        if not accepted:  # a full queue: not acked, so Mercury sends it again
            self.bot.state.release_message(message_id)
            self.bot.metrics.deliveries.labels(intake="websocket", outcome="queue_full").inc()

    def _on_card_action(self, session: _Session, frame: dict[str, Any], found: Activity) -> None:
        """Take a card submit as the webhook's `attachmentActions` does (the same checks).

        Acked once queued or settled: the claim makes a redelivery a duplicate anyway. Not
        acked on a full queue, so Mercury sends it again.
        """
        if found.action_id is None or found.room_id is None:
            log.warning("websocket: a card submit without a cluster or ids; ignored")
            outcome = "no_cluster"
        else:
            outcome = self.bot.take_card_action(
                found.action_id,
                card_id=found.card_id or "",
                person_id=found.person_id or "",
                email=found.actor_email or "",
                room_id=found.room_id,
                intake="websocket",
            )
        if outcome != "queue_full":
            self._ack(session, frame)
        if outcome != "accepted":
            self.bot.metrics.deliveries.labels(intake="websocket", outcome=outcome).inc()

    def _settle(self, found: Any) -> str | None:
        """Return why an activity needs no REST call, or None to hydrate it."""
        if found is None:
            return "malformed"
        if found.verb not in NEW_MESSAGE_VERBS:
            return "not_a_new_message"
        if found.message_id is None or found.room_id is None:
            log.warning("websocket: an activity without a cluster or ids; backfill will see it")
            return "no_cluster"
        me = self.bot.identity.get()
        mine = me is not None and (
            found.actor_email == me.email or found.actor_uuid == _uuid_of(me.person_id)
        )
        if mine and self.bot.state.is_own_post(found.message_id):
            return "own_post"
        spaces = self.options.policy.spaces
        if spaces and not mine and found.room_id not in spaces:
            return "outside_allowed_spaces"
        return None

    def _hydrate_and_process(
        self,
        session: _Session,
        frame: dict[str, Any],
        message_id: str,
        received: float,
        own_room: str | None = None,
    ) -> str:
        if own_room is not None and self._our_post_in_flight(message_id, own_room):
            self._ack(session, frame)
            self.bot.metrics.deliveries.labels(intake="websocket", outcome="own_post").inc()
            self.bot.books.count("messages", outcome="own_post")
            return "own_post"
        try:
            message = self.bot.client.get_message(message_id)
        except NeedsReauth as error:
            self.bot.state.release_message(message_id)
            log.error("websocket: the bot identity needs a new login: %s", error)
            self.bot.record_error("fetch message: needs_reauth")
            self.bot.identity.invalidate()
            return "needs_reauth"
        except TokenbotError as error:
            # Not acked: Mercury redelivers it, and the backfill would find it too.
            log.warning("websocket: could not fetch a message: %s", error)
            self.bot.state.release_message(message_id)
            self.bot.metrics.deliveries.labels(intake="websocket", outcome="fetch_failed").inc()
            return "fetch_failed"
        self._ack(session, frame)
        return self.bot.process(message, "websocket", received)

    def _our_post_in_flight(self, message_id: str, room_id: str) -> bool:
        """Tell whether an activity of the user is our own post still being recorded.

        Mercury often delivers our post before the POST call has returned its id; while a post
        into that room is in flight, wait (bounded) for its id instead of spending a REST call.
        """
        state = self.bot.state
        for _ in range(40):  # at most 2 s: a post call answers long before
            if state.is_own_post(message_id):
                return True
            if not state.has_pending_post(room_id):
                return state.is_own_post(message_id)
            self._stop.wait(0.05)
        return False

    def _ack(self, session: _Session, frame: dict[str, Any]) -> None:
        frame_id = frame.get("id")
        if isinstance(frame_id, str):
            self._send(session, {"messageId": frame_id, "type": "ack"})

    def _send(self, session: _Session, body: dict[str, Any]) -> None:
        try:
            with session.send_lock:
                session.ws.send(json.dumps(body))
        except (ConnectionClosed, OSError):
            log.debug("websocket: send on a closed socket")

    # -- state ------------------------------------------------------------------------------

    _frame_noted_at = 0.0

    def _note_frame(self) -> None:
        self.metrics.last_frame.set(time.time())
        now = self._monotonic()
        if now - self._frame_noted_at >= 5.0:  # the panel's "last frame": one write per 5 s
            self._frame_noted_at = now
            self.bot.state.set_values({"websocket_last_frame_at": self.bot.clock.now().isoformat()})

    def _close_session(self, code: int, reason: str) -> None:
        with self._session_lock:
            session = self._session
        if session is not None:
            try:
                session.ws.close(code, reason)
            except Exception:
                log.debug("websocket already closed")

    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if self._lease is None and not state.startswith("stopped:"):
            return  # a standby keeps quiet: the panel shows the holder's socket
        try:
            self.bot.state.set_values({"websocket_state": state})
        except Exception:
            log.exception("websocket: could not record the state")

    def _stopped(self, why: str) -> None:
        log.error("websocket intake stopped: %s", why)
        self.stopped_because = why
        self.bot.record_error(f"websocket stopped: {why[:300]}")
        self._set_state(f"stopped: {why[:200]}")


def _uuid_of(person_id: str) -> str | None:
    from tokenbot.bot.activity import _decode

    decoded = _decode(person_id)
    return decoded[2] if decoded else None


def _parse(raw: Any) -> dict[str, Any] | None:
    try:
        frame = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return frame if isinstance(frame, dict) else None
