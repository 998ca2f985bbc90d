"""`tokenbot serve`: the panel, the webhook endpoint, the refresher and the bot in one process."""

from __future__ import annotations

import errno
import logging
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from tokenbot.command_runtime import config_option
from tokenbot.command_runtime import database_error
from tokenbot.command_runtime import fail
from tokenbot.command_runtime import settings_or_exit
from tokenbot.core.errors import TokenbotError
from tokenbot.core.logs import configure_logging
from tokenbot.process import ROLES
from tokenbot.process import TokenbotProcess
from tokenbot.process import parse_roles


def _roles(_ctx: click.Context, _param: click.Parameter, value: str) -> frozenset[str]:
    try:
        return parse_roles(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


log = logging.getLogger("tokenbot")


@click.command("serve")
@config_option
@click.option(
    "--role",
    "roles",
    default=",".join(ROLES),
    show_default=True,
    callback=_roles,
    help="What this process runs: any of web (panel + webhook endpoint), scheduler "
    "(token refresher), bot. Split them over processes when you want to.",
)
@click.option("--host", default=None, help="Panel listen address (default: panel.host).")
@click.option("--port", type=int, default=None, help="Panel port (default: panel.port).")
def serve_command(
    config_path: Path | None, roles: frozenset[str], host: str | None, port: int | None
) -> None:
    """Run tokenbot in production: migrations, then the panel, the refresher and the bot.

    Secrets come from the environment (WEBEX_CLIENT_ID, WEBEX_CLIENT_SECRET,
    TOKENBOT_SECRET_KEY, TOKENBOT_ENCRYPTION_KEYS, and TOKENBOT_WEBHOOK_SECRET for webhook
    intake); everything else from config.yaml. SIGTERM or Ctrl-C stops it gracefully.
    """
    panel: dict[str, Any] = {}
    if host is not None:
        panel["host"] = host
    if port is not None:
        panel["port"] = port
    settings = settings_or_exit(config_path, overrides={"panel": panel} if panel else None)
    run_process(TokenbotProcess(settings, roles=roles))


def run_process(process: TokenbotProcess, *, banner: str = "") -> None:
    """Start `process`, print the ready line, wait for SIGTERM/SIGINT, stop it gracefully."""
    settings = process.settings
    try:
        configure_logging(settings.logging.level, settings.logging.format)
    except TokenbotError as exc:
        fail(exc)
    if settings.logging.level != "DEBUG":
        # APScheduler logs every sweep, Alembic every plugin and the SDK its User-Agent at INFO;
        # ours log what matters.
        for chatty in (
            "apscheduler",
            "alembic",
            "webexpythonsdk.restsession",
            "webexteamssdk.restsession",
        ):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    process.install_signal_handlers()
    try:
        process.start()
    except TokenbotError as exc:
        process.stop()
        fail(exc)
    except SQLAlchemyError as exc:
        process.stop()
        fail(database_error(exc))
    except OSError as exc:
        process.stop()
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            where = f"{settings.panel.host}:{settings.panel.port}"
            message = f"panel.port: cannot listen on {where} ({exc.strerror or exc})"
        else:
            message = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        fail(TokenbotError(message))
    say = _Say(settings.logging.format)
    if banner:
        say(banner)
    where = process.url if "web" in process.roles else "no web role"
    say(f"tokenbot ready: {where} (roles: {','.join(sorted(process.roles))})")
    if "web" in process.roles:
        say(f"listening on {process.bound}")
        if process.exposed:
            say(
                f"warning: panel.host is {settings.panel.host}: the panel and the webhook "
                f"endpoint are reachable from the network on port {process.port}; put them "
                "behind a TLS reverse proxy or bind 127.0.0.1",
                level=logging.WARNING,
            )
    try:
        process.wait()
    finally:
        process.stop()
    say("tokenbot stopped")


class _Say:
    """Print what the operator reads at start and stop: plain lines, or JSON log records.

    With `logging.format: json` nothing on stdout or stderr may be plain text, so these lines
    become records of the `tokenbot` logger; uncaught exceptions and warnings are logged too.
    """

    def __init__(self, fmt: str) -> None:
        self._json = fmt == "json"
        if self._json:
            logging.captureWarnings(True)
            sys.excepthook = _log_uncaught
            threading.excepthook = _log_uncaught_in_thread

    def __call__(self, text: str, *, level: int = logging.INFO) -> None:
        if self._json:
            log.log(level, text)
        else:
            click.echo(text, err=level >= logging.WARNING)


def _log_uncaught(
    kind: type[BaseException], value: BaseException, trace: TracebackType | None
) -> None:
    log.critical("uncaught %s", kind.__name__, exc_info=(kind, value, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    log.critical(
        "uncaught %s in thread %s",
        args.exc_type.__name__,
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
