"""The import rule of docs/architecture.md ("Parts"), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PARTS = {"admin", "bot", "core", "emulator"}
FORBIDDEN = {
    "core": {"admin", "bot", "emulator", "cli"}
    | {"flask", "flask_wtf", "webexpythonsdk", "webexteamssdk"},
    "admin": {"bot", "emulator", "cli"},
    "bot": {"admin", "emulator", "cli"},
    "emulator": {"admin", "bot", "core", "cli"},
}


def _imported(path: Path) -> set[str]:
    """Name each import by the part it reaches: `tokenbot.core.x` is `core`, `flask` is `flask`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    parts: set[str] = set()
    for name in names:
        first, _, rest = name.partition(".")
        if first == "tokenbot":
            second = rest.partition(".")[0]
            parts.add(second if second in PARTS else "cli")
        else:
            parts.add(first)
    return parts


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_rule(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def _roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_nothing_imports_a_part_by_its_bare_name() -> None:
    """`import core` would load a second copy of a module beside `tokenbot.core` in a checkout."""
    offenders = []
    for folder in ("admin", "bot", "core", "emulator", "tokenbot", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            bare = _roots(path) & PARTS
            if bare:
                offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bare)}")
    assert not offenders, "\n".join(offenders)


def test_the_namespace_links_point_at_the_parts() -> None:
    for part in PARTS:
        link = ROOT / "tokenbot" / part
        assert link.is_symlink(), f"tokenbot/{part} must be a symlink to ../{part}"
        assert link.resolve() == (ROOT / part).resolve()
