"""Every reference the repository makes resolves inside it.

Code and docs cite requirement ids (``R-09``), failure stories (``F-7``), other documents
(``docs/architecture.md``) and tests (``tests/core/test_store.py::test_x``). Someone who has only
the repository must be able to follow each of them, so: every id cited anywhere is defined in
docs/requirements.md, every document named exists, every relative Markdown link (and its
``#anchor``) lands, every test docs/requirements.md names exists, and no file names a place
outside the checkout.
"""

from __future__ import annotations

import ast
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "docs" / "requirements.md"
# This file spells out the forbidden names and patterns, so it does not scan itself.
SELF = Path(__file__).resolve()
SKIPPED_DIRS = {".git", "build", "dist", "__pycache__", "node_modules"}

# "R-09", and ranges such as "R-09..R-12" or "R-30 … R-33" (every id in between counts too).
REQUIREMENT_REF = re.compile(r"\bR-(\d{2})\b(?:\s*(?:\.\.|…|–)\s*R-(\d{2})\b)?")
REQUIREMENT_DEF = re.compile(r"^### R-(\d{2}) — ", re.MULTILINE)
STORY_REF = re.compile(r"\bF-(\d{1,2})\b(?:\s*(?:\.\.|…|–)\s*F-(\d{1,2})\b)?")
STORY_DEF = re.compile(r"^- \*\*F-(\d{1,2}) — ", re.MULTILINE)
DOCUMENT_REF = re.compile(r"(?<![\w/.-])([\w./-]*[\w-]\.md)\b")
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)`")
URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
# Places that exist only on a developer's machine or beside the checkout, never in a clone.
OUTSIDE = re.compile(
    # (`[/]` keeps this pattern itself from reading as such a reference to a plain grep.)
    r"/work/|\.\./shared\b|\bshared[/]reference\b|\b(?:DESIGN|STYLE)\.md\b"
    r"|\bsecurity-reliability\.md\b|\bstyle-anchors\.md\b|\bwebex-websocket-cards-files\.md\b"
)


@cache
def _files() -> tuple[Path, ...]:
    """List the repository's text files: git's view when there is one, else a walk."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        paths = [
            path
            for path in ROOT.rglob("*")
            if not ({*path.relative_to(ROOT).parts} & SKIPPED_DIRS)
            and not any(part.startswith(".venv") for part in path.relative_to(ROOT).parts)
        ]
    files = []
    for path in paths:
        if path.is_symlink() or not path.is_file() or path.resolve() == SELF:
            continue
        files.append(path)
    return tuple(sorted(files))


@cache
def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None  # images and other binary files cite nothing


def _texts() -> list[tuple[Path, str]]:
    return [(path, text) for path in _files() if (text := _text(path)) is not None]


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _ids(pattern: re.Pattern[str], text: str) -> set[int]:
    """Expand every citation (single ids and ranges) into the ids it names."""
    ids: set[int] = set()
    for match in pattern.finditer(text):
        first = int(match.group(1))
        last = int(match.group(2) or first)
        ids.update(range(first, max(first, last) + 1))
    return ids


def _defined(pattern: re.Pattern[str]) -> set[int]:
    return {int(number) for number in pattern.findall(REQUIREMENTS.read_text(encoding="utf-8"))}


def test_requirements_are_numbered_once_and_in_order() -> None:
    numbers = [int(n) for n in REQUIREMENT_DEF.findall(REQUIREMENTS.read_text(encoding="utf-8"))]
    assert numbers, "docs/requirements.md defines no requirement as '### R-nn — ...'"
    assert numbers == list(range(1, len(numbers) + 1)), numbers


@pytest.mark.parametrize(
    ("pattern", "definition", "what"),
    [
        (REQUIREMENT_REF, REQUIREMENT_DEF, "requirement"),
        (STORY_REF, STORY_DEF, "failure story"),
    ],
    ids=["requirements", "failure-stories"],
)
def test_every_cited_id_is_defined_in_the_requirements(
    pattern: re.Pattern[str], definition: re.Pattern[str], what: str
) -> None:
    defined = _defined(definition)
    prefix = "R" if what == "requirement" else "F"
    undefined = []
    for path, text in _texts():
        for match in pattern.finditer(text):
            missing = _ids(pattern, match.group(0)) - defined
            if missing:
                names = ", ".join(
                    f"{prefix}-{n:02d}" if prefix == "R" else f"F-{n}" for n in sorted(missing)
                )
                undefined.append(f"{path.relative_to(ROOT)}:{_line(text, match.start())}: {names}")
    assert not undefined, (
        f"these cite a {what} that docs/requirements.md does not define "
        f"(define it there, or fix the citation):\n" + "\n".join(undefined)
    )


def test_every_requirement_names_its_proof_or_says_what_is_missing() -> None:
    text = REQUIREMENTS.read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    unproved = [
        section.splitlines()[0]
        for section in sections
        if section.startswith("R-") and "tests/" not in section and "Not yet covered" not in section
    ]
    assert not unproved, f"requirements without a test or a 'Not yet covered' note: {unproved}"


def test_no_file_names_a_place_outside_the_repository() -> None:
    outside = []
    for path, text in _texts():
        for match in OUTSIDE.finditer(text):
            where = f"{path.relative_to(ROOT)}:{_line(text, match.start())}"
            outside.append(f"{where}: {match.group(0)!r}")
    assert not outside, (
        "these name a file or folder that a clone of the repository does not have "
        "(bring what is needed into docs/ and cite that):\n" + "\n".join(outside)
    )


@cache
def _names() -> frozenset[str]:
    return frozenset(path.name for path in _files())


def _resolves(path: Path, name: str) -> bool:
    """Whether a document name resolves: beside the file, from the root, or by its own name."""
    if (path.parent / name).exists() or (ROOT / name).exists():
        return True
    return Path(name).name in _names()


def test_every_document_named_exists() -> None:
    missing = []
    for path, text in _texts():
        bare = URL.sub("", text)
        for match in DOCUMENT_REF.finditer(bare):
            if not _resolves(path, match.group(1)):
                missing.append(f"{path.relative_to(ROOT)}: {match.group(1)}")
    assert not missing, "these name a document the repository does not have:\n" + "\n".join(missing)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def _anchors(path: Path) -> frozenset[str]:
    text = _text(path) or ""
    return frozenset(_slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE))


def test_every_relative_markdown_link_lands() -> None:
    broken = []
    for path, text in _texts():
        if path.suffix != ".md":
            continue
        for target in MARKDOWN_LINK.findall(text):
            if URL.match(target) or target.startswith("mailto:"):
                continue
            file_part, _, anchor = target.partition("#")
            destination = (path.parent / file_part).resolve() if file_part else path
            if not destination.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


@cache
def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _defines(path: Path, qualified: str) -> bool:
    """Whether the test module at `path` defines `qualified` (``test_x`` or ``Class::test_x``)."""
    body: list[ast.stmt] = _module(path).body
    for name in qualified.split("::"):
        found = [
            node
            for node in body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name == name
        ]
        if not found:
            return False
        body = found[0].body
    return True


def test_every_test_the_docs_name_exists() -> None:
    missing = []
    named = 0
    for path, text in _texts():
        if path.suffix != ".md":
            continue
        for module, qualified in TEST_REF.findall(text):
            named += 1
            target = ROOT / module
            if not target.is_file() or not _defines(target, qualified):
                missing.append(f"{path.relative_to(ROOT)}: {module}::{qualified}")
    assert named >= 35, "docs/requirements.md should name the tests that prove each requirement"
    assert not missing, (
        "the docs name tests that do not exist (renamed or removed? fix the docs):\n"
        + "\n".join(missing)
    )


# `core/store.py`, `tests/plugins/netguard.py`, `bot/plugins/` ... written in backticks.
REPOSITORY_PATH = re.compile(
    r"`((?:admin|bench|bot|core|docker|docs|emulator|tests|tokenbot)/[\w/.-]*)"
)
# Written by a run, never committed (see .gitignore).
GENERATED = ("bench/results/",)


def test_every_repository_path_the_docs_name_exists() -> None:
    """A module or folder renamed or removed must not live on in the prose that explains it."""
    missing = []
    for path, text in _texts():
        if path.suffix != ".md":
            continue
        for match in REPOSITORY_PATH.finditer(text):
            named = match.group(1)
            if named.startswith(GENERATED) or (ROOT / named).exists():
                continue
            missing.append(f"{path.relative_to(ROOT)}:{_line(text, match.start())}: {named}")
    assert not missing, (
        "the docs name paths the repository does not have (renamed? fix the docs):\n"
        + "\n".join(missing)
    )
