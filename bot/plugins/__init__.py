"""Loading command plugins: modules listed in `bot.plugins`, each with `register(router)`."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from tokenbot.bot.router import Router
from tokenbot.core.errors import ConfigError

__all__ = ["load_plugins"]


def load_plugins(router: Router, names: Iterable[str]) -> list[str]:
    """Import each module named and call its `register(router)`; return the names loaded.

    Raises:
        ConfigError: A module cannot be imported or has no callable `register`.
    """
    loaded = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            raise ConfigError(
                "bot.plugins",
                f"cannot import plugin {name!r}: {error}",
                hint="list importable module paths, e.g. tokenbot.bot.plugins.example",
            ) from error
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigError("bot.plugins", f"plugin {name!r} has no register(router) function")
        register(router)
        loaded.append(name)
    return loaded
