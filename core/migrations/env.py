"""Alembic environment: migrate the connection or URL that `core.db` hands over.

No alembic.ini: `core.db.alembic_config` builds the configuration in code and passes an
open connection in `config.attributes["connection"]` (or a URL in `attributes["url"]`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tokenbot.core.models import schema_metadata

target_metadata = schema_metadata()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from tokenbot.core.db import Database

    url = context.config.attributes.get("url")
    if not url:
        raise RuntimeError("core.migrations needs attributes['connection'] or ['url']")
    database = Database(url)
    try:
        with database.engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        database.dispose()


if context.is_offline_mode():
    raise RuntimeError(
        "offline (SQL script) migrations are not supported; run `tokenbot db upgrade`"
    )
_run_online()
