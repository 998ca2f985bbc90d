"""One tokenbot process: the web server, the refresh scheduler and the bot, by role.

`tokenbot serve` runs all three roles in one process. An operator may split them (`--role`):
every instance may run the scheduler, because the database decides who refreshes a token
(R-09 in docs/requirements.md); the webhook endpoint is served by processes that run both `web` and
`bot`, because deliveries are processed on that process's worker pool.

Shutdown (SIGTERM, SIGINT) is graceful: the web server stops accepting and finishes the
requests in flight, the bot stops its intake and drains its queue, the scheduler lets a running
sweep finish, and the database connections close.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from types import FrameType
from typing import Any

from tokenbot.access_log import AccessLog
from tokenbot.admin import create_app
from tokenbot.admin.app import MAX_BODY_BYTES
from tokenbot.admin.metrics import PanelMetrics
from tokenbot.admin.panel import BotFacts
from tokenbot.bot import Bot
from tokenbot.bot import BotOptions
from tokenbot.bot import create_bot
from tokenbot.bot import create_webhook_app
from tokenbot.bot.webhook_owners import WebhookJanitor
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import Clock
from tokenbot.core.config import Settings
from tokenbot.core.jobs import IntervalJob
from tokenbot.core.loopback import is_loopback_host
from tokenbot.core.notify import intake_state_hook
from tokenbot.core.reauth_waiting import WaitingCommands
from tokenbot.core.records import AccountView
from tokenbot.core.runtime import Runtime
from tokenbot.core.runtime import build_runtime
from tokenbot.core.scheduler import RefreshScheduler
from tokenbot.web_server import ServerLimits
from tokenbot.web_server import build_web_server

__all__ = [
    "ROLES",
    "TokenbotProcess",
    "bot_status_reader",
    "install_webhook_cleanup",
    "mount_webhook",
    "parse_roles",
]

log = logging.getLogger("tokenbot")

# The whole graceful stop, web server and bot together: inside `docker stop`'s default 10 s.
STOP_TIMEOUT_SECONDS = 8.0

ROLES = ("web", "scheduler", "bot")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def parse_roles(text: str) -> frozenset[str]:
    """Return the roles named in a comma-separated list; ValueError names a bad one."""
    roles = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(roles - set(ROLES))
    if unknown or not roles:
        raise ValueError(f"unknown role(s) {unknown or [text]!r}: use a comma list of {ROLES}")
    return roles


def mount_webhook(panel: WSGIApp, webhook: WSGIApp, path: str) -> WSGIApp:
    """Return a WSGI app sending `path` to the webhook app and everything else to the panel.

    The webhook app is separate on purpose: no admin session, no CSRF check (deliveries are
    authenticated by their HMAC signature instead), and its own body-size cap.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") == path:
            return webhook(environ, start_response)
        return panel(environ, start_response)

    return app


def install_webhook_cleanup(settings: Settings, runtime: Runtime) -> None:
    """Make every disconnect in this process delete the account's webhook of ours first.

    Any process may disconnect an account (the panel, `tokenbot accounts disconnect`), and only
    until the token is wiped can Webex be asked to delete the webhook that token created.
    """
    if not settings.bot.enabled or settings.bot.intake != "webhook" or not settings.bot.public_url:
        return
    janitor = WebhookJanitor(
        options=BotOptions.from_settings(settings),
        tokens=runtime.tokens,
        timeout=settings.webex.timeout_seconds,
    )

    def remove(account: AccountView) -> None:
        janitor.remove(account.id)

    runtime.store.before_disconnect(remove)


def bot_status_reader(
    state: BotStateStore, waiting: WaitingCommands | None = None
) -> Callable[[], BotFacts]:
    """Return the panel's bot-card reader: from the database, so any process can show it.

    `waiting`: the messages kept for after the identity's re-login (their count is shown).
    """

    def read() -> BotFacts:
        snapshot = state.snapshot()
        return {
            "waiting_for_relogin": waiting.count() if waiting is not None else 0,
            "intake_mode": snapshot.get("mode", "unknown"),
            # Registered means Webex delivers: not when it says the webhook is inactive.
            "webhook_registered": bool(snapshot.get("webhook_registered", False))
            and snapshot.get("webhook_status", "active") == "active",
            "webhook_status": snapshot.get("webhook_status"),
            "last_event_at": snapshot.get("last_event_at"),
            "commands_handled": snapshot.counters.get("commands_total", 0),
            "errors": snapshot.counters.get("errors", 0),
            "last_error": snapshot.get("last_error"),
            "intake_reason": snapshot.get("intake_reason"),
            "websocket_state": snapshot.get("websocket_state"),
            "websocket_connected_since": snapshot.get("websocket_connected_since"),
            "websocket_last_frame_at": snapshot.get("websocket_last_frame_at"),
            "websocket_reconnects": snapshot.counters.get("websocket_reconnects", 0),
            "websocket_devices": snapshot.get("websocket_devices"),
            "events_backfilled": snapshot.counters.get("events_backfilled", 0),
            "last_error_at": snapshot.get("last_error_at"),
            "last_poll_at": snapshot.get("last_poll_at"),
            "spaces_watched": snapshot.get("poll_spaces"),
            "api_budget_used": snapshot.get("poll_budget_used"),
            "api_budget_per_minute": snapshot.get("poll_budget_per_minute"),
            "webhook_reactivated_at": snapshot.get("webhook_reactivated_at"),
            "intake_state": snapshot.get("intake_state"),
            "intake_state_reason": snapshot.get("intake_state_reason"),
            "intake_state_since": snapshot.get("intake_state_since"),
            "intake_missed": snapshot.counters.get("intake_missed", 0),
        }

    return read


class TokenbotProcess:
    """The parts of one process, started and stopped in the right order.

    Args:
        settings: Validated settings.
        roles: Which of `ROLES` this process runs.
        clock: The time source (tests pass a frozen one).
        runtime: An already built runtime (tests, `tokenbot demo`); built from `settings`
            otherwise, and then closed by `stop()`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        roles: Iterable[str] = ROLES,
        clock: Clock | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        self.settings = settings
        self.roles = frozenset(roles)
        self._clock = clock
        self._own_runtime = runtime is None
        self.runtime: Runtime | None = runtime
        self.scheduler: RefreshScheduler | None = None
        self.jobs: list[IntervalJob] = []
        self.bot: Bot | None = None
        self.metrics = PanelMetrics()
        # Any: waitress's stubs leave out `effective_port` and type `trigger` as an int.
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Build the runtime, start the scheduler and the bot, and bind the web server."""
        if self.runtime is None:
            self.runtime = build_runtime(self.settings, clock=self._clock)
        runtime = self.runtime
        install_webhook_cleanup(self.settings, runtime)
        if "scheduler" in self.roles:
            self.scheduler = RefreshScheduler(
                runtime.sweep,
                interval_seconds=self.settings.refresh.sweep_interval_seconds,
                clock=runtime.clock,
            )
            self.scheduler.start()
            if self.settings.notify.enabled:
                notify = IntervalJob(
                    "notify",
                    runtime.deliver_notifications,
                    interval_seconds=self.settings.notify.interval_seconds,
                )
                notify.start()
                self.jobs.append(notify)
            probe_every = self.settings.refresh.probe_interval_seconds
            if probe_every:
                probe = IntervalJob(
                    "probe",
                    runtime.probe,
                    interval_seconds=probe_every,
                    # Spread over the interval's tenth: instances do not probe in step.
                    jitter_seconds=probe_every / 10,
                    first_delay_seconds=min(60, probe_every),
                )
                probe.start()
                self.jobs.append(probe)
        if "bot" in self.roles and self.settings.bot.enabled:
            self.bot = create_bot(
                options=BotOptions.from_settings(self.settings),
                tokens=runtime.tokens,
                store=runtime.store,
                database=runtime.database,
                clock=runtime.clock,
                registry=self.metrics.registry,
                timeout=self.settings.webex.timeout_seconds,
            )
            if runtime.outbox is not None:
                hook = intake_state_hook(runtime.outbox, self.bot.options.intake)
                self.bot.on_intake_state = hook
            self.bot.start()
        if "web" in self.roles:
            self._start_web(runtime)
        log.info("tokenbot started: roles %s", ",".join(sorted(self.roles)))

    def _start_web(self, runtime: Runtime) -> None:
        scheduler = self.scheduler
        panel = create_app(
            self.settings,
            runtime,
            scheduler_alive=scheduler.alive if scheduler is not None else None,
            bot_status=bot_status_reader(
                BotStateStore(runtime.database, runtime.clock),
                WaitingCommands(runtime.database, runtime.clock),
            ),
            metrics=self.metrics,
        )
        app: WSGIApp = panel
        if self.bot is not None and self.bot.options.intake == "webhook":
            app = mount_webhook(panel, create_webhook_app(self.bot), self.bot.options.webhook_path)
        panel_settings = self.settings.panel
        webhook_caps: dict[str, int] = {}
        if app is not panel and self.bot is not None:
            webhook_caps[self.bot.options.webhook_path] = self.bot.options.max_body_bytes
        limits = ServerLimits(
            request_timeout_seconds=panel_settings.request_timeout_seconds,
            connection_limit=panel_settings.connection_limit,
            body_bytes=MAX_BODY_BYTES,
            path_body_bytes=webhook_caps,
        )
        # Behind a reverse proxy every request comes from the proxy: believe its X-Forwarded-*
        # headers (client address for login throttling, scheme for Secure cookies and CSRF's
        # Referer check) for as many hops as configured, and only from the proxies' addresses.
        self._server = build_web_server(
            AccessLog(app),
            host=panel_settings.host,
            port=panel_settings.port,
            limits=limits,
            trusted_proxies=panel_settings.trusted_proxy_addresses,
            proxy_hops=panel_settings.trusted_proxies,
        )
        self._server_thread = threading.Thread(
            target=self._server.run, name="tokenbot-web", daemon=True
        )
        self._server_thread.start()

    @property
    def port(self) -> int:
        """Return the web server's bound port (useful with port 0)."""
        if self._server is None:
            raise RuntimeError("the web role is not running")
        return int(self._server.effective_port)

    @property
    def bound(self) -> str:
        """Return the address the web server really listens on, as host:port."""
        if self._server is None:
            raise RuntimeError("the web role is not running")
        host = str(self._server.effective_host)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def exposed(self) -> bool:
        """Return whether the panel listens beyond this machine (a wildcard or a public address)."""
        host = self.settings.panel.host
        return not is_loopback_host(host)

    @property
    def url(self) -> str:
        """Return the panel's base URL as bound."""
        host = self.settings.panel.host
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host
        return f"http://{shown}:{self.port}"

    def request_stop(self) -> None:
        """Ask `wait()` to return; safe from a signal handler or another thread."""
        self._stop_requested.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested (or `timeout`); return whether it was."""
        return self._stop_requested.wait(timeout)

    def install_signal_handlers(self) -> None:
        """Turn SIGTERM and SIGINT into a graceful stop (main thread only)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _stop_web(self, timeout: float) -> None:
        """Stop waitress gracefully from another thread.

        Waitress's own `close()` only closes the listening socket; idle keep-alive connections
        would keep its loop running. Changes to its socket map are made in the loop's thread
        (through its trigger), never from here.
        """
        from waitress import wasyncore

        server = self._server
        deadline = time.monotonic() + timeout

        def in_loop(thunk: Callable[[], object]) -> None:
            try:
                server.trigger.pull_trigger(thunk)
            except OSError:
                # The trigger is already closed: the loop has ended or is ending by itself.
                log.debug("web server loop already closing")

        # 1. Stop accepting new connections.
        in_loop(lambda: wasyncore.dispatcher.close(server))
        # 2. Let the requests being handled finish (waitress cancels ones not yet started).
        server.task_dispatcher.shutdown(timeout=max(0.0, deadline - time.monotonic()))
        # 3. Let finished answers reach their clients, then close every connection: the loop ends.
        while time.monotonic() < deadline and any(
            getattr(channel, "total_outbufs_len", 0) for channel in list(server._map.values())
        ):
            time.sleep(0.02)
        in_loop(lambda: wasyncore.close_all(server._map))
        if self._server_thread is not None:
            self._server_thread.join(max(0.1, deadline - time.monotonic()))
            if self._server_thread.is_alive():
                log.warning("the web server did not stop within %.0f s", timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop everything gracefully, in order, within `timeout` seconds in all; idempotent.

        The web server and the bot share one deadline, so the whole stop fits inside the
        grace period of `docker stop` (10 s) and systemd's TimeoutStopSec.
        """
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout
        self._stop_requested.set()
        if self.runtime is not None:
            self.runtime.stopping.set()  # a running sweep starts no new refresh
        if self._server is not None:
            self._stop_web(max(0.1, deadline - time.monotonic()))
        if self.bot is not None:
            self.bot.stop(max(0.1, deadline - time.monotonic()))
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        for job in self.jobs:
            job.shutdown(wait=True)
        if self.runtime is not None and self._own_runtime:
            self.runtime.close()
        log.info("tokenbot stopped")
