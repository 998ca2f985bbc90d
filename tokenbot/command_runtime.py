"""What every command that touches the database shares: the --config option and the runtime.

Errors we raise on purpose (`TokenbotError`) end the command with one line on stderr naming
what is wrong, and exit status 2; never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from typing import TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from tokenbot.core.config import Settings
from tokenbot.core.config import load_settings
from tokenbot.core.errors import ConfigError
from tokenbot.core.errors import TokenbotError
from tokenbot.core.runtime import Runtime
from tokenbot.core.runtime import build_runtime

__all__ = ["config_option", "database_error", "fail", "runtime_for", "settings_or_exit"]

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
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
    return ConfigError(
        "database.url",
        f"cannot use the database: {cause}",
        hint="check database.url or TOKENBOT_DATABASE_URL, and that the server is running",
    )


def fail(exc: TokenbotError) -> None:
    """End the command with the error's line (one per problem) and exit status 2."""
    for line in str(exc).splitlines():
        click.echo(f"error: {line}", err=True)
    raise SystemExit(2)


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
        raise AssertionError("unreachable") from exc


@contextmanager
def runtime_for(config_path: Path | None, *, migrate: bool = True) -> Iterator[Runtime]:
    """Yield the runtime of `config_path`; our own errors become one line and exit 2."""
    settings = settings_or_exit(config_path)
    try:
        runtime = build_runtime(settings, migrate=migrate, check_keys=False)
    except TokenbotError as exc:
        fail(exc)
        raise AssertionError("unreachable") from exc
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
