"""The error hierarchy: one module holds every exception core defines, and its map is true."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import tokenbot.core
import tokenbot.core.errors as errors


def _documented_tree() -> dict[str, str | None]:
    """Return {class name: parent name} as the module docstring's map draws it."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^( *)\* (\w+)", line)
        if not found:
            continue
        depth, name = len(found.group(1)), found.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def _defined_exceptions() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    }


def test_the_docstring_map_matches_the_classes() -> None:
    classes = _defined_exceptions()
    actual: dict[str, str | None] = {}
    for name, cls in classes.items():
        parent = cls.__bases__[0]
        actual[name] = None if parent is Exception else parent.__name__
    assert _documented_tree() == actual


def test_every_exported_error_is_defined_here() -> None:
    assert sorted(errors.__all__) == sorted(_defined_exceptions())


def test_no_other_core_module_defines_an_exception() -> None:
    elsewhere = []
    for info in pkgutil.walk_packages(tokenbot.core.__path__, "tokenbot.core."):
        if ".migrations" in info.name or info.name == errors.__name__:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                elsewhere.append(f"{module.__name__}.{name}")
    assert elsewhere == [], "move these to tokenbot.core.errors and re-export them"


def test_every_error_has_its_own_code() -> None:
    codes = [cls.code for cls in _defined_exceptions().values()]
    assert len(codes) == len(set(codes))
