"""Several processes starting at once all migrate the same empty database without a clash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.plugins.tokens import wait_until

ROOT = Path(__file__).resolve().parents[2]
# Everything is imported before the start signal, so the four migrations really overlap.
SCRIPT = """
import sys, time
from pathlib import Path
from tokenbot.core.db import upgrade
import alembic.command, core.models
core.models.schema_metadata()
go = Path(sys.argv[2])
Path(sys.argv[3]).touch()
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
upgrade(sys.argv[1])
"""


def test_four_processes_migrate_one_empty_database(database_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, database_url, str(go), str(tmp_path / f"ready{n}")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    wait_until(
        lambda: all((tmp_path / f"ready{n}").exists() for n in range(4)),
        timeout=60,
        what="every child imported and waiting",
    )
    go.touch()
    results = [child.communicate(timeout=120) for child in children]
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err[-3000:]
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert len(versions) == 1
    assert {"accounts", "token_events", "admin_users", "bot_state"} <= tables
