"""Opening the store: backend tuning, URL handling, transactions, and outages as StoreError."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, exc, insert, select, text

import zerogate.store
from zerogate.errors import StoreError
from zerogate.store import Store, events, open_store, policy_activations, policy_bundles

PASSWORD = "s3cr3t-Hunter2"  # must never show up in messages


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_store_sqlite_uses_wal_and_safe_pragmas(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'z.db'}", busy_timeout_ms=1234)
    try:
        with store.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        store.close()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 1234,
    }
    assert store.dialect == "sqlite"


def test_store_dialect_matches_url(store: Store) -> None:
    assert store.dialect == store.engine.dialect.name
    assert store.dialect in ("sqlite", "postgresql")


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_store_rewrites_plain_postgresql_urls_to_psycopg(pg_url: str, scheme: str) -> None:
    store = open_store(pg_url.replace("postgresql+psycopg://", scheme))
    try:
        assert store.url.drivername == "postgresql+psycopg"
        assert store.dialect == "postgresql"
    finally:
        store.close()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "not a url"])
def test_store_rejects_unsupported_urls(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert caught.value.code == "store_url_invalid"


def test_store_unreachable_postgres_raises_without_password() -> None:
    url = f"postgresql://zerogate:{PASSWORD}@127.0.0.1:{_closed_port()}/zerogate"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    error = caught.value
    assert error.code == "store_unavailable"
    assert error.status == 503
    for shown in (str(error), repr(error), error.message, str(error.as_dict())):
        assert PASSWORD not in shown
    assert "127.0.0.1" in error.message
    assert error.__cause__ is None


@pytest.mark.postgres
def test_store_missing_database_raises_store_error(pg_url: str) -> None:
    url = pg_url.replace("postgres@", f"postgres:{PASSWORD}@").replace("zerogate_test", "nope")
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert caught.value.code == "store_unavailable"
    assert PASSWORD not in str(caught.value)
    assert "nope" in str(caught.value)


def test_store_unopenable_sqlite_file_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(f"sqlite:///{tmp_path / 'missing-dir' / 'z.db'}")
    assert caught.value.code == "store_unavailable"


def test_store_close_is_idempotent(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'z.db'}")
    store.close()
    store.close()


@pytest.mark.postgres
def test_store_repr_and_redacted_url_hide_the_password(pg_url: str) -> None:
    # The test server trusts local connections, so any password is accepted.
    store = open_store(pg_url.replace("postgres@", f"postgres:{PASSWORD}@"))
    try:
        shown = [repr(store), store.redacted, repr(store.url)]
        with store.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        store.close()
    assert all(PASSWORD not in s and "***" in s for s in shown)


def test_store_begin_commits_or_rolls_back(store: Store) -> None:
    now = datetime.now(UTC)
    bundle = {"hash": "a" * 64, "created_at": now, "manifest": "{}", "files": "{}"}
    with store.begin() as conn:
        conn.execute(insert(policy_bundles).values(bundle))

    def insert_then_fail() -> None:
        with store.begin() as conn:
            conn.execute(insert(policy_bundles).values({**bundle, "hash": "b" * 64}))
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    with store.connect() as conn:
        hashes = conn.execute(select(policy_bundles.c.hash)).scalars().all()
    assert hashes == ["a" * 64]


def test_store_enforces_foreign_keys(store: Store) -> None:
    row = {"bundle_hash": "f" * 64, "activated_at": datetime.now(UTC)}
    with pytest.raises(exc.IntegrityError), store.begin() as conn:
        conn.execute(insert(policy_activations).values(row))


def test_store_timestamps_come_back_as_utc(store: Store) -> None:
    plus_two = datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with store.begin() as conn:
        conn.execute(insert(events).values(topic="t", payload="{}", created_at=plus_two))
    with store.connect() as conn:
        stored = conn.execute(select(events.c.created_at)).scalar_one()
    assert stored == plus_two
    assert stored.tzinfo == UTC
    with pytest.raises(exc.StatementError), store.begin() as conn:
        conn.execute(
            insert(events).values(topic="t", payload="{}", created_at=datetime(2026, 1, 5))
        )


def test_store_event_seq_never_reuses_a_value(store: Store) -> None:
    now = datetime.now(UTC)
    with store.begin() as conn:
        for _ in range(3):
            conn.execute(insert(events).values(topic="t", payload="{}", created_at=now))
        conn.execute(delete(events).where(events.c.seq == 3))
        conn.execute(insert(events).values(topic="t", payload="{}", created_at=now))
    with store.connect() as conn:
        assert conn.execute(select(events.c.seq).order_by(events.c.seq)).scalars().all() == [
            1,
            2,
            4,
        ]
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_store_exports_are_sorted_and_resolve() -> None:
    names = list(zerogate.store.__all__)
    assert names == sorted(names, key=_isort_style)  # the order ruff RUF022 keeps
    assert all(hasattr(zerogate.store, name) for name in names)


def _isort_style(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)
