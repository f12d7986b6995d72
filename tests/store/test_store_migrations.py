"""Alembic migrations: up from empty on both backends, reversible, matching the schema, race-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from zerogate.store import Store, metadata, open_store
from zerogate.store.migrations import alembic_config

TABLES = {
    "alembic_version",
    "events",
    "group_members",
    "groups",
    "policy_activations",
    "policy_bundles",
    "recovery_codes",
    "sessions",
    "signing_keys",
    "totp_credentials",
    "users",
    "webauthn_challenges",
    "webauthn_credentials",
    "oauth_clients",
    "oauth_codes",
    "oauth_consents",
    "oauth_grants",
    "oauth_refresh_tokens",
    "federated_identities",
    "webhook_replays",
}
HEAD = "008"


def _tables(store: Store) -> set[str]:
    with store.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_store_migrate_from_empty_creates_every_table(empty_store_url: str) -> None:
    store = open_store(empty_store_url)
    try:
        assert store.current_revision() is None
        assert store.migrate() == HEAD
        assert store.current_revision() == store.head_revision() == HEAD
        assert _tables(store) == TABLES
        with store.connect() as conn:
            indexes = {ix["name"] for ix in inspect(conn).get_indexes("events")}
        assert "ix_events_topic" in indexes
    finally:
        store.close()


def test_store_migrate_is_idempotent(store: Store) -> None:
    assert store.current_revision() == HEAD
    assert store.migrate() == HEAD
    assert _tables(store) == TABLES


def test_store_schema_matches_the_migrations(store: Store) -> None:
    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_store_migrations_downgrade_to_base_and_up_again(store: Store) -> None:
    with store.begin() as conn:
        command.downgrade(alembic_config(conn), "001")
    assert _tables(store) == {"alembic_version", "events"}
    with store.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert _tables(store) == {"alembic_version"}
    assert store.current_revision() is None
    store.migrate()
    assert _tables(store) == TABLES


def test_store_concurrent_migrations_from_two_nodes_agree(empty_store_url: str) -> None:
    stores = [open_store(empty_store_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            revisions = list(pool.map(lambda s: s.migrate(), stores))
        assert revisions == [HEAD] * len(stores)
        assert stores[0].current_revision() == HEAD
    finally:
        for s in stores:
            s.close()
