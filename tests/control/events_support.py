"""Helpers for the event bus tests: open a bus on a test database, collect events with a timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from zerogate.control import Event, EventBus, InProcessBus, PostgresBus, SQLiteBus
from zerogate.store import Store, open_store

T = TypeVar("T")
FAST_POLL_S = 0.02


def run(coro: Coroutine[Any, Any, T], *, timeout_s: float = 30.0) -> T:
    """Run an async scenario from a sync test, failing (not hanging) after `timeout_s`."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await coro

    return asyncio.run(bounded())


def make_bus(store: Store | None, **options: Any) -> EventBus:
    if store is None:
        return InProcessBus()
    options.setdefault("poll_interval_s", FAST_POLL_S)
    if store.dialect == "postgresql":
        return PostgresBus(store, **options)
    return SQLiteBus(store, **options)


@asynccontextmanager
async def open_test_bus(url: str | None, **options: Any) -> AsyncIterator[EventBus]:
    """A bus on `url` (None: in memory), closed with its store afterwards."""
    store = open_store(url) if url is not None else None
    bus = make_bus(store, **options)
    try:
        yield bus
    finally:
        await bus.aclose()
        if store is not None:
            store.close()


async def take(
    sub: AsyncGenerator[Event, None], count: int, *, timeout_s: float = 10.0
) -> list[Event]:
    """The next `count` events from `sub` (the subscription stays open for more)."""
    got: list[Event] = []
    if count == 0:
        return got
    async with asyncio.timeout(timeout_s):
        async for event in sub:
            got.append(event)
            if len(got) == count:
                break
    return got


def seqs(found: list[Event]) -> list[int]:
    return [e.seq for e in found]
