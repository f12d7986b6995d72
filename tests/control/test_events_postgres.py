"""PostgreSQL specifics: NOTIFY, lost listener connections, and seqs that commit out of order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from events_support import run, seqs, take
from sqlalchemy import func, insert, select, text

from zerogate.control import Event, PostgresBus
from zerogate.control.events import _db
from zerogate.control.events._postgres import APPLICATION_NAME, libpq_dsn
from zerogate.store import Store, events, open_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store_url(make_database: Callable[..., str]) -> str:
    return make_database("postgresql")


@pytest.fixture
def pg_store(pg_store_url: str) -> Iterator[Store]:
    store = open_store(pg_store_url)
    yield store
    store.close()


def _listener_pids(store: Store) -> list[int]:
    with store.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE application_name = :app AND datname = current_database()"
            ),
            {"app": APPLICATION_NAME},
        )
        return [int(r.pid) for r in rows]


async def _wait_for(predicate: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
    """Poll a (blocking) predicate in a thread until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await asyncio.to_thread(predicate):
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def test_postgres_publish_notifies_seq_on_commit(pg_store: Store) -> None:
    async def scenario() -> tuple[Event, list[str]]:
        async with await psycopg.AsyncConnection.connect(
            libpq_dsn(pg_store.url), autocommit=True
        ) as listener:
            await listener.execute("LISTEN zerogate_events")
            bus = PostgresBus(pg_store)
            try:
                event = await bus.publish("t", {})
            finally:
                await bus.aclose()
            payloads = [n.payload async for n in listener.notifies(timeout=5, stop_after=1)]
            return event, payloads

    event, payloads = run(scenario())
    assert payloads == [str(event.seq)]


def test_postgres_subscriber_survives_listener_termination(pg_store_url: str) -> None:
    node_a, node_b = open_store(pg_store_url), open_store(pg_store_url)

    async def scenario() -> list[Event]:
        # Slow polling and catch-up: prompt delivery below can only come from LISTEN/NOTIFY.
        subscriber = PostgresBus(node_a, poll_interval_s=5.0, catchup_interval_s=30.0)
        publisher = PostgresBus(node_b)
        try:
            sub = subscriber.subscribe()
            reader = asyncio.create_task(take(sub, 6, timeout_s=15))
            await _wait_for(lambda: len(_listener_pids(node_a)) == 1)
            (old_pid,) = _listener_pids(node_a)
            await publisher.publish("t", {"n": 1})
            await _wait_for(lambda: subscriber.listening)
            with node_b.connect() as conn:
                conn.execute(select(func.pg_terminate_backend(old_pid)))
            # Published while the listener is down: caught up when it reconnects.
            await publisher.publish("t", {"n": 2})
            await publisher.publish("t", {"n": 3})
            await _wait_for(lambda: _listener_pids(node_a) not in ([], [old_pid]))
            await _wait_for(lambda: subscriber.listening)
            for n in (4, 5, 6):
                await publisher.publish("t", {"n": n})
            got = await asyncio.wait_for(reader, 4.0)  # well under the 5 s poll interval
            await sub.aclose()
            return got
        finally:
            await subscriber.aclose()
            await publisher.aclose()

    try:
        got = run(scenario())
    finally:
        node_a.close()
        node_b.close()
    assert [e.payload["n"] for e in got] == [1, 2, 3, 4, 5, 6]
    assert seqs(got) == [1, 2, 3, 4, 5, 6]


def test_postgres_bus_recovers_when_every_connection_is_killed(pg_store: Store) -> None:
    async def scenario() -> list[Event]:
        bus = PostgresBus(pg_store, poll_interval_s=0.05)
        try:
            sub = bus.subscribe()
            await bus.publish("t", {"n": 1})
            got = await take(sub, 1)
            # What a server restart does to us: every backend of this database goes away.
            with pg_store.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            await bus.publish("t", {"n": 2})  # the pool pre-pings and reconnects
            got += await take(sub, 1)
            await sub.aclose()
            return got
        finally:
            await bus.aclose()

    assert [e.payload["n"] for e in run(scenario())] == [1, 2]


def test_postgres_subscriber_waits_for_a_seq_committed_out_of_order(pg_store: Store) -> None:
    async def scenario() -> tuple[list[Event], int, Event, Event]:
        bus = PostgresBus(pg_store, gap_timeout_s=30.0)
        try:
            with pg_store.engine.connect() as slow:
                tx = slow.begin()
                held = _db.append(slow, topic="t", key=None, payload="{}", now=datetime.now(UTC))
                later = await bus.publish("t", {})  # commits first, with the higher seq
                assert later.seq == held.seq + 1
                sub = bus.subscribe()
                reader = asyncio.create_task(take(sub, 2))
                await asyncio.sleep(0.3)
                assert not reader.done()  # seq 2 is visible but seq 1 may still come
                frontier = await bus.last_seq()
                tx.commit()
            got = await reader
            await sub.aclose()
            return got, frontier, held, later
        finally:
            await bus.aclose()

    got, frontier, held, later = run(scenario())
    assert seqs(got) == [held.seq, later.seq]
    assert frontier == 0  # a new subscriber must not start past the in-flight seq


def test_postgres_subscriber_passes_a_rolled_back_seq_after_the_gap_timeout(
    pg_store: Store,
) -> None:
    async def scenario() -> list[Event]:
        bus = PostgresBus(pg_store, gap_timeout_s=0.5)
        try:
            with pg_store.engine.connect() as slow:
                tx = slow.begin()
                _db.append(slow, topic="t", key=None, payload="{}", now=datetime.now(UTC))
                later = await bus.publish("t", {"n": 2})
                tx.rollback()  # seq 1 is gone for good
            got = await take(bus.subscribe(), 1)
            assert await bus.last_seq() == later.seq
            return got
        finally:
            await bus.aclose()

    assert seqs(run(scenario())) == [2]


def test_postgres_subscriber_passes_old_gaps_at_once(pg_store: Store) -> None:
    with pg_store.begin() as conn:
        conn.execute(select(func.nextval("events_seq_seq")))  # a publish that never committed
        conn.execute(
            insert(events).values(
                topic="t",
                key=None,
                payload="{}",
                created_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )

    async def scenario() -> tuple[list[Event], int]:
        bus = PostgresBus(pg_store, gap_timeout_s=30.0)
        try:
            got = await take(bus.subscribe(), 1, timeout_s=5)
            return got, await bus.last_seq()
        finally:
            await bus.aclose()

    got, last = run(scenario())
    assert seqs(got) == [2]
    assert last == 2


def test_postgres_listener_heartbeats_without_reconnecting(pg_store_url: str) -> None:
    node_a, node_b = open_store(pg_store_url), open_store(pg_store_url)

    async def scenario() -> tuple[list[Event], list[int], list[int]]:
        subscriber = PostgresBus(node_a, catchup_interval_s=0.05)
        publisher = PostgresBus(node_b)
        try:
            sub = subscriber.subscribe()
            reader = asyncio.create_task(take(sub, 1))
            await _wait_for(lambda: subscriber.listening)
            before = _listener_pids(node_a)
            await asyncio.sleep(0.3)  # several quiet intervals, each ending in a heartbeat
            await publisher.publish("t", {})
            got = await reader
            await sub.aclose()
            return got, before, _listener_pids(node_a)
        finally:
            await subscriber.aclose()
            await publisher.aclose()

    try:
        got, before, after = run(scenario())
    finally:
        node_a.close()
        node_b.close()
    assert seqs(got) == [1]
    assert len(before) == 1
    assert after == before
