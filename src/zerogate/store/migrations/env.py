"""Alembic environment: runs migrations on the connection `Store.migrate()` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from zerogate.store._schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through zerogate.store.Store.migrate(), not the alembic CLI")
_run(_connection)
