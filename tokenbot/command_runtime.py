"""What every command that touches the database shares: the --config option and the runtime.

Errors we raise on purpose (`TokenbotError`) end the command with one line on stderr naming
what is wrong, and exit status 1; never a traceback.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from typing import NoReturn
from typing import TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import StatementError

from tokenbot.core.config import Settings
from tokenbot.core.config import load_settings
from tokenbot.core.errors import ConfigError
from tokenbot.core.errors import TokenbotError
from tokenbot.core.logs import JsonFormatter
from tokenbot.core.runtime import Runtime
from tokenbot.core.runtime import build_runtime

__all__ = [
    "config_option",
    "database_error",
    "ensure_port_free",
    "fail",
    "runtime_for",
    "settings_or_exit",
]

F = TypeVar("F", bound=Callable[..., Any])


def config_option(command: F) -> F:
    """Add the `--config PATH` option every command shares."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="YAML settings file (default: $TOKENBOT_CONFIG, else ./config.yaml).",
    )(command)


def database_error(exc: SQLAlchemyError) -> ConfigError:
    """Describe a database failure in one line naming the setting (never the password)."""
    # A failed statement wraps the driver's error, whose text is the one that explains.
    original = exc.orig if isinstance(exc, StatementError) else None
    cause = str(original or exc).strip().splitlines()[0][:300]
    return ConfigError(
        "database.url",
        f"cannot use the database: {cause}",
        hint="check database.url or TOKENBOT_DATABASE_URL, and that the server is running",
    )


def fail(exc: TokenbotError) -> NoReturn:
    """End the command with the error's one line and exit status 1.

    Once logging is set to JSON (`tokenbot serve`), the line is a log record like every other.
    """
    if any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers):
        logging.getLogger("tokenbot").error("error: %s", exc)
    else:
        click.echo(f"error: {exc}", err=True)
    raise SystemExit(1)


def ensure_port_free(option: str, host: str, port: int) -> None:
    """End the command with one line when `host:port` cannot be bound.

    The emulator's werkzeug server answers a taken port by printing its own two lines and
    exiting, so the command asks first (a port taken in between still fails, less kindly).
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            click.echo(f"error: {option}: cannot listen on {host}:{port} ({reason})", err=True)
            raise SystemExit(1) from None


def settings_or_exit(
    config_path: Path | None,
    *,
    demo: bool = False,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Load the settings, or end the command with the one-line error."""
    try:
        return load_settings(config_path, demo=demo, overrides=overrides, env=env)
    except TokenbotError as exc:
        fail(exc)


@contextmanager
def runtime_for(config_path: Path | None, *, migrate: bool = True) -> Iterator[Runtime]:
    """Yield the runtime of `config_path`; our own errors become one line and exit 1."""
    settings = settings_or_exit(config_path)
    try:
        runtime = build_runtime(settings, migrate=migrate, check_keys=False)
    except TokenbotError as exc:
        fail(exc)
    except SQLAlchemyError as exc:
        fail(database_error(exc))
        raise AssertionError("unreachable") from exc
    try:
        yield runtime
    except TokenbotError as exc:
        fail(exc)
    except SQLAlchemyError as exc:
        fail(database_error(exc))
    finally:
        runtime.close()
