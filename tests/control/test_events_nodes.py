"""Several nodes share one store: every subscriber on every node sees every event once, in order."""

from __future__ import annotations

import asyncio

from events_support import FAST_POLL_S, run, seqs, take

from zerogate.control import Event, PostgresBus, SQLiteBus, open_bus
from zerogate.store import open_store


def test_open_bus_picks_the_bus_for_the_dialect(store_url: str) -> None:
    async def scenario() -> type:
        store = open_store(store_url)
        bus = open_bus(store, poll_interval_s=FAST_POLL_S)
        try:
            return type(bus)
        finally:
            await bus.aclose()
            store.close()

    expected = PostgresBus if store_url.startswith("postgresql") else SQLiteBus
    assert run(scenario()) is expected


def test_nodes_concurrent_publishers_seen_once_in_order(store_url: str) -> None:
    nodes, publishers_per_node, per_publisher = 2, 3, 6
    total = nodes * publishers_per_node * per_publisher

    async def scenario() -> tuple[list[Event], list[list[Event]]]:
        stores = [open_store(store_url) for _ in range(nodes)]
        buses = [open_bus(s, poll_interval_s=FAST_POLL_S) for s in stores]
        try:
            subs = [bus.subscribe() for bus in buses for _ in range(2)]
            readers = [asyncio.create_task(take(s, total, timeout_s=20)) for s in subs]

            async def publisher(node: int, worker: int) -> list[Event]:
                return [
                    await buses[node].publish("t", {"node": node, "w": worker, "i": i}, key=str(i))
                    for i in range(per_publisher)
                ]

            batches = await asyncio.gather(
                *(publisher(n, w) for n in range(nodes) for w in range(publishers_per_node))
            )
            received = await asyncio.gather(*readers)
            for sub in subs:
                await sub.aclose()
            return [e for batch in batches for e in batch], received
        finally:
            for bus in buses:
                await bus.aclose()
            for store in stores:
                store.close()

    published, received = run(scenario())
    by_seq = {e.seq: e for e in published}
    assert sorted(by_seq) == list(range(1, total + 1))
    for got in received:
        assert seqs(got) == list(range(1, total + 1))
        assert got == [by_seq[s] for s in range(1, total + 1)]
