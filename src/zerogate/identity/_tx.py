"""Running identity queries off the event loop, in a read or a write transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection

from zerogate.store import Store

T = TypeVar("T")


async def read(store: Store, query: Callable[[Connection], T]) -> T:
    """`query` on a read connection, in a worker thread."""

    def run() -> T:
        with store.connect() as conn:
            return query(conn)

    return await asyncio.to_thread(run)


async def write(store: Store, change: Callable[[Connection], T]) -> T:
    """`change` in one write transaction (committed on success), in a worker thread."""

    def run() -> T:
        with store.begin() as conn:
            return change(conn)

    return await asyncio.to_thread(run)
