"""The composition root publishes identity changes as `entity.changed`, atomically with them."""

from __future__ import annotations

import pytest

from zerogate.app import record_identity_change
from zerogate.control import TOPIC_ENTITY_CHANGED, PostgresBus, SQLiteBus
from zerogate.identity import ChangeKind, Directory
from zerogate.store import Store

from ._support import T0, CountingHasher, later, run


def _bus(store: Store) -> SQLiteBus | PostgresBus:
    if store.dialect == "postgresql":
        return PostgresBus(store, poll_interval_s=0.02)
    return SQLiteBus(store, poll_interval_s=0.02)


def test_changes_become_entity_changed_events(store: Store) -> None:
    async def scenario() -> None:
        d = Directory(store, hasher=CountingHasher(), on_change=record_identity_change)
        alice = await d.add_user("alice", "alice@example.com", now=T0)
        await d.add_group("staff", now=T0)
        await d.add_member("staff", "alice", now=later(1))
        disabled = await d.disable_user("alice", now=later(2))
        assert disabled.kind == ChangeKind.USER_DISABLED
        bus = _bus(store)
        try:
            seen = []
            async for event in bus.subscribe(topics={TOPIC_ENTITY_CHANGED}):
                seen.append((event.key, event.payload))
                if len(seen) == 4:
                    break
        finally:
            await bus.aclose()
        user = {"type": "User", "id": "alice", "user_id": alice.id}
        assert seen == [
            (alice.id, {**user, "change": "user_created"}),
            ("Group:staff", {"type": "Group", "id": "staff", "change": "group_created"}),
            (alice.id, {**user, "change": "membership_changed"}),
            (alice.id, {**user, "change": "user_disabled"}),
        ]

    run(scenario())


def test_no_event_without_the_change_and_no_change_without_the_event(store: Store) -> None:
    async def scenario() -> None:
        d = Directory(store, hasher=CountingHasher(), on_change=record_identity_change)
        await d.add_user("alice", "alice@example.com", now=T0)
        with pytest.raises(Exception):  # noqa: B017 - any failure must roll both back
            await d.add_user("bob", "bob@example.com", groups=["missing"], now=T0)
        bus = _bus(store)
        try:
            assert await bus.last_seq() == 1
        finally:
            await bus.aclose()
        assert [u.username for u in await d.list_users()] == ["alice"]

    run(scenario())
