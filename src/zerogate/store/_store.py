"""`Store`: one engine per process, its transactions, and Alembic migrations to the shipped head."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, Connection, Engine, func, select

from zerogate.store._engine import (
    DialectName,
    create_store_engine,
    parse_url,
    redact,
    translate_errors,
)
from zerogate.store._sealing import Sealer
from zerogate.store.migrations import alembic_config, head_revision

# Serialises `migrate()` across nodes sharing one PostgreSQL ("zg-migr" as an int64).
_MIGRATION_LOCK_ID = 0x7A672D6D69677200


class Store:
    """An open database: the engine, transactions that report outages as StoreError, migrations."""

    __slots__ = ("_dialect", "_engine", "_sealer", "_url")

    def __init__(self, engine: Engine, url: URL, *, sealer: Sealer | None = None) -> None:
        self._engine = engine
        self._url = url
        self._dialect = cast(DialectName, engine.dialect.name)
        self._sealer = sealer or Sealer.passthrough()

    @property
    def sealer(self) -> Sealer:
        """Seals secrets at rest (TOTP seeds, private keys) under the configured master key."""
        return self._sealer

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> DialectName:
        """ "sqlite" or "postgresql"."""
        return self._dialect

    @property
    def url(self) -> URL:
        """The normalised URL; its `repr` masks the password, `redacted` is safe to print."""
        return self._url

    @property
    def redacted(self) -> str:
        return redact(self._url)

    def __repr__(self) -> str:
        return f"Store({self.redacted!r})"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction, committed on success; on SQLite it takes the write lock up front."""
        with translate_errors(self._url), self._engine.connect() as conn:
            if self._dialect == "sqlite":
                conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read connection (rolled back on exit unless the caller commits)."""
        with translate_errors(self._url), self._engine.connect() as conn:
            yield conn

    def migrate(self) -> str:
        """Upgrade the schema to the shipped head in one transaction; returns the revision."""
        with self.begin() as conn:
            if self._dialect == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_ID)))
            command.upgrade(alembic_config(conn), "head")
        return head_revision()

    def current_revision(self) -> str | None:
        """The schema revision the database is at; None for an empty database."""
        with self.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str:
        """The newest schema revision this version of Zerogate ships."""
        return head_revision()

    def close(self) -> None:
        """Close every pooled connection; safe to call twice."""
        self._engine.dispose()


def open_store(
    url: str,
    *,
    echo: bool = False,
    busy_timeout_ms: int = 5000,
    connect_timeout_s: int = 5,
    sealer: Sealer | None = None,
) -> Store:
    """Open the store at `url` and check it answers; raises StoreError if it cannot be reached.

    `sqlite:///path.db` (WAL mode) or `postgresql://user:pass@host/db` (driven by psycopg 3).
    """
    parsed = parse_url(url)
    engine = create_store_engine(
        parsed, echo=echo, busy_timeout_ms=busy_timeout_ms, connect_timeout_s=connect_timeout_s
    )
    store = Store(engine, parsed, sealer=sealer)
    try:
        with store.connect() as conn:
            conn.execute(select(1))
    except BaseException:
        engine.dispose()
        raise
    return store


__all__ = ["Store", "open_store"]
