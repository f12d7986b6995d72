"""Opening the store: URL allowlist, engine tuning per backend, and DB errors turned into StoreError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy import URL, Connection, Engine, create_engine, event, exc, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from zerogate.errors import StoreError

DialectName = Literal["sqlite", "postgresql"]

# Allowlist: the backends we test for real; plain `postgresql://` means psycopg 3.
_DRIVERS: dict[str, str] = {
    "sqlite": "sqlite+pysqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
# How SQLite transactions start; IMMEDIATE takes the write lock up front so a read-then-write
# transaction waits on busy_timeout instead of failing with SQLITE_BUSY when it upgrades.
_SQLITE_BEGIN = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}


def parse_url(url: str) -> URL:
    """Parse and normalise a store URL; raises StoreError for unsupported backends."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise StoreError(
            "the store URL cannot be parsed", code="store_url_invalid", status=500
        ) from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise StoreError(
            f"unsupported store backend {parsed.drivername!r}: use sqlite:/// or postgresql://",
            code="store_url_invalid",
            status=500,
        )
    return parsed.set(drivername=driver)


def redact(url: URL) -> str:
    """The URL as safe to show in logs and errors (password masked)."""
    return url.render_as_string(hide_password=True)


def unavailable(url: URL, error: BaseException) -> StoreError:
    """A StoreError for `error` whose message never contains the URL's password."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    text = reason[0] if reason else type(error).__name__
    if url.password:
        text = text.replace(str(url.password), "***")
    return StoreError(f"store unavailable at {redact(url)}: {text}")


@contextmanager
def translate_errors(url: URL) -> Iterator[None]:
    """Turn connection-level database errors into StoreError(store_unavailable)."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise unavailable(url, error) from None


def create_store_engine(
    url: URL, *, echo: bool, busy_timeout_ms: int, connect_timeout_s: int
) -> Engine:
    """An Engine tuned for the backend: SQLite in WAL mode, PostgreSQL with pre-ping."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo, busy_timeout_ms=busy_timeout_ms)
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,  # a restarted server leaves dead pooled connections behind
        connect_args={"connect_timeout": max(2, connect_timeout_s)},
    )


def _sqlite_engine(url: URL, *, echo: bool, busy_timeout_ms: int) -> Engine:
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or every thread sees its own DB
    engine = create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # We issue BEGIN ourselves (below): pysqlite's implicit one skips DDL and cannot be IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(_SQLITE_BEGIN[mode])

    return engine


__all__ = [
    "DialectName",
    "create_store_engine",
    "parse_url",
    "redact",
    "translate_errors",
    "unavailable",
]
