"""The EventBus contract, run on the in-memory bus, SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest
from events_support import open_test_bus, run, seqs, take
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerogate.control import Event
from zerogate.errors import InvalidInput


def test_bus_publish_returns_stored_event(bus_url: str | None) -> None:
    async def scenario() -> list[Event]:
        async with open_test_bus(bus_url) as bus:
            first = await bus.publish("session.revoked", {"session": "s1", "n": [1, 2]}, key="s1")
            second = await bus.publish("user.disabled", {"user": "u1"})
            assert await bus.last_seq() == second.seq
            return [first, second]

    first, second = run(scenario())
    assert (first.seq, second.seq) == (1, 2)
    assert first.topic == "session.revoked"
    assert first.key == "s1"
    assert second.key is None
    assert first.payload == {"session": "s1", "n": [1, 2]}
    assert first.created_at.tzinfo is not None
    assert first.created_at.utcoffset() == UTC.utcoffset(None)


def test_bus_last_seq_is_zero_when_empty(bus_url: str | None) -> None:
    async def scenario() -> int:
        async with open_test_bus(bus_url) as bus:
            return await bus.last_seq()

    assert run(scenario()) == 0


def test_bus_subscribe_delivers_backlog_then_live(bus_url: str | None) -> None:
    async def scenario() -> tuple[list[Event], list[Event]]:
        async with open_test_bus(bus_url) as bus:
            for n in range(3):
                await bus.publish("t", {"n": n})
            sub = bus.subscribe()
            backlog = await take(sub, 3)
            live_task = asyncio.create_task(take(sub, 2))
            await bus.publish("t", {"n": 3})
            await bus.publish("t", {"n": 4})
            live = await live_task
            await sub.aclose()
            return backlog, live

    backlog, live = run(scenario())
    assert [e.payload["n"] for e in backlog + live] == [0, 1, 2, 3, 4]
    assert seqs(backlog + live) == [1, 2, 3, 4, 5]


def test_bus_subscribe_after_seq_resumes_without_loss(bus_url: str | None) -> None:
    async def scenario() -> list[Event]:
        async with open_test_bus(bus_url) as bus:
            first = bus.subscribe()
            await bus.publish("t", {"n": 1})
            await bus.publish("t", {"n": 2})
            seen = await take(first, 1)
            await first.aclose()  # the subscriber "disconnects" having seen seq 1
            await bus.publish("t", {"n": 3})
            resumed = bus.subscribe(after_seq=seen[-1].seq)
            seen += await take(resumed, 2)
            await resumed.aclose()
            return seen

    assert seqs(run(scenario())) == [1, 2, 3]


def test_bus_subscribe_filters_topics(bus_url: str | None) -> None:
    async def scenario() -> tuple[list[Event], list[Event]]:
        async with open_test_bus(bus_url) as bus:
            only_b = bus.subscribe(topics={"b"})
            a_or_c = bus.subscribe(topics=["a", "c"])
            for topic in "abcab":
                await bus.publish(topic, {"topic": topic})
            got_b = await take(only_b, 2)
            got_ac = await take(a_or_c, 3)
            await only_b.aclose()
            await a_or_c.aclose()
            return got_b, got_ac

    got_b, got_ac = run(scenario())
    assert [(e.seq, e.topic) for e in got_b] == [(2, "b"), (5, "b")]
    assert [(e.seq, e.topic) for e in got_ac] == [(1, "a"), (3, "c"), (4, "a")]
    assert got_b[0].payload == {"topic": "b"}


def test_bus_concurrent_publishers_seen_once_in_order(bus_url: str | None) -> None:
    tasks, per_task = 8, 5
    total = tasks * per_task

    async def scenario() -> tuple[list[Event], list[list[Event]]]:
        async with open_test_bus(bus_url) as bus:
            subs = [bus.subscribe() for _ in range(3)]
            readers = [asyncio.create_task(take(s, total, timeout_s=20)) for s in subs]

            async def publisher(worker: int) -> list[Event]:
                return [await bus.publish("t", {"w": worker, "i": i}) for i in range(per_task)]

            published = [
                e for batch in await asyncio.gather(*map(publisher, range(tasks))) for e in batch
            ]
            received = await asyncio.gather(*readers)
            for sub in subs:
                await sub.aclose()
            return published, received

    published, received = run(scenario())
    assert sorted(seqs(published)) == list(range(1, total + 1))
    for got in received:
        assert seqs(got) == list(range(1, total + 1))
        assert {(e.payload["w"], e.payload["i"]) for e in got} == {
            (e.payload["w"], e.payload["i"]) for e in published
        }


def test_bus_aclose_ends_subscribers(bus_url: str | None) -> None:
    async def scenario() -> list[Event]:
        async with open_test_bus(bus_url) as bus:
            await bus.publish("t", {})
            sub = bus.subscribe()
            got = await take(sub, 1)

            async def drain() -> list[Event]:
                return [e async for e in sub]

            drainer = asyncio.create_task(drain())
            await asyncio.sleep(0)
            await bus.aclose()
            got += await drainer  # ends on its own: the bus stopped it
            with pytest.raises(RuntimeError):
                await bus.publish("t", {})
            return got

    assert seqs(run(scenario())) == [1]


@pytest.mark.parametrize(
    ("topic", "payload", "key"),
    [
        ("", {}, None),
        ("t" * 201, {}, None),
        ("t", {}, "k" * 501),
        ("t", {"x": object()}, None),
        ("t", {"blob": "x" * 70_000}, None),
    ],
    ids=["empty-topic", "long-topic", "long-key", "not-json", "too-large"],
)
def test_bus_publish_rejects_invalid_events(
    bus_url: str | None, topic: str, payload: dict[str, object], key: str | None
) -> None:
    async def scenario() -> int:
        async with open_test_bus(bus_url) as bus:
            with pytest.raises(InvalidInput):
                await bus.publish(topic, payload, key=key)
            with pytest.raises(InvalidInput):
                bus.subscribe(topics="t")  # one string is a classic bug: "t" is not {"t"}
            return await bus.last_seq()

    assert run(scenario()) == 0


_ROUNDS = st.lists(
    st.tuples(st.lists(st.sampled_from("abc"), max_size=4), st.integers(min_value=0, max_value=4)),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=12,
    deadline=None,
    database=None,  # nothing written to .hypothesis/: examples are cheap to regenerate
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rounds=_ROUNDS, topics=st.none() | st.sets(st.sampled_from("abc"), min_size=1))
def test_bus_resuming_subscriber_sees_exactly_the_published_sequence(
    bus_url: str | None, rounds: list[tuple[list[str], int]], topics: set[str] | None
) -> None:
    """Publish in rounds; after each, a subscriber reads a few events and disconnects; then resumes."""

    async def scenario() -> tuple[list[Event], list[Event]]:
        async with open_test_bus(bus_url) as bus:
            last = await bus.last_seq()  # the database is shared by every example of this test
            published: list[Event] = []
            seen: list[Event] = []
            for batch, reads in rounds:
                published += [await bus.publish(t, {"i": len(published)}) for t in batch]
                wanted = [e for e in published if topics is None or e.topic in topics]
                sub = bus.subscribe(topics=topics, after_seq=last)
                seen += await take(sub, min(reads, len(wanted) - len(seen)))
                await sub.aclose()
                last = seen[-1].seq if seen else last
            sub = bus.subscribe(topics=topics, after_seq=last)
            seen += await take(sub, len(wanted) - len(seen))
            await sub.aclose()
            return published, seen

    published, seen = run(scenario())
    wanted = [e for e in published if topics is None or e.topic in topics]
    assert seen == wanted
