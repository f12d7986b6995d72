"""Event buses over the store: the shared SQL feed, and `SQLiteBus`, which polls it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from zerogate.clock import Clock, SystemClock
from zerogate.control.events import _db
from zerogate.control.events._feed import FeedCursor, Wakeup, backoff_s, stable_frontier
from zerogate.control.events._model import BusBase, Event, encode_payload
from zerogate.errors import StoreError
from zerogate.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

_BATCH = 500  # rows per read: bounds memory while a subscriber drains a long backlog
_TAIL = 1000  # newest rows `last_seq` inspects for young gaps


class StoreBus(BusBase):
    """The change feed on any store: durable publish, ordered gap-safe subscribers.

    Subclasses decide how an idle subscriber learns of new events (`_idle_wait_s`,
    `_on_subscribe`). Store I/O is sync SQLAlchemy run in worker threads.
    """

    def __init__(
        self,
        store: Store,
        *,
        poll_interval_s: float = 0.2,
        gap_timeout_s: float = 2.0,
        gap_retry_s: float = 0.05,
        clock: Clock | None = None,
    ) -> None:
        if poll_interval_s <= 0 or gap_timeout_s < 0 or gap_retry_s <= 0:
            raise ValueError("intervals must be positive")
        self._store = store
        self._poll_interval_s = poll_interval_s
        self._gap_timeout_s = gap_timeout_s
        self._gap_retry_s = gap_retry_s
        self._clock: Clock = clock or SystemClock()
        self._wakeup = Wakeup()
        self._closed = False
        self._in_flight: set[asyncio.Future[Any]] = set()

    async def publish(
        self, topic: str, payload: Mapping[str, object], *, key: str | None = None
    ) -> Event:
        self._check_open()
        text = encode_payload(topic, payload, key)
        event = await self._in_thread(_append, self._store, topic, key, text, self._clock.now())
        self._wakeup.notify_all()  # local subscribers need not wait for a poll or a NOTIFY
        return event

    async def last_seq(self) -> int:
        self._check_open()
        tail, db_now = await self._in_thread(_read_tail, self._store, self._clock.now())
        return stable_frontier(
            tail, complete=len(tail) < _TAIL, now=db_now, gap_timeout_s=self._gap_timeout_s
        )

    async def aclose(self) -> None:
        self._closed = True
        self._wakeup.notify_all()
        # A cancelled caller leaves its worker thread running: let it finish with the store.
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))

    async def _stream(
        self, topics: frozenset[str] | None, after_seq: int
    ) -> AsyncGenerator[Event, None]:
        # Registered before the first read, so nothing published after that read is missed.
        waiter = self._wakeup.register()
        cursor = FeedCursor(seq=after_seq, gap_timeout_s=self._gap_timeout_s)
        failures = 0
        try:
            await self._on_subscribe()
            while not self._closed:
                try:
                    rows, db_now = await self._in_thread(
                        _read_after, self._store, cursor.seq, topics, self._clock.now()
                    )
                except StoreError as exc:
                    failures += 1
                    log.warning("event feed read failed", extra={"error": exc.message})
                    await Wakeup.wait(waiter, backoff_s(failures))
                    continue
                failures = 0
                ready, blocked = cursor.advance(rows, now=db_now)
                for event in ready:
                    if self._closed:
                        return
                    if topics is None or event.topic in topics:
                        yield event
                if blocked:
                    await Wakeup.wait(waiter, self._gap_retry_s)
                elif len(rows) < _BATCH:
                    await Wakeup.wait(waiter, self._idle_wait_s())
        finally:
            self._wakeup.unregister(waiter)

    async def _in_thread(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run store I/O in a worker thread that `aclose` waits for even if our caller is cancelled."""
        future = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
        self._in_flight.add(future)
        future.add_done_callback(self._forget)
        return await asyncio.shield(future)

    def _forget(self, future: asyncio.Future[Any]) -> None:
        self._in_flight.discard(future)
        if not future.cancelled():
            future.exception()  # retrieved: a caller that was cancelled no longer wants it

    async def _on_subscribe(self) -> None:
        """Hook: start whatever delivers change notifications (nothing for polling)."""

    def _idle_wait_s(self) -> float:
        """Hook: how long a caught-up subscriber sleeps unless woken."""
        return self._poll_interval_s


class SQLiteBus(StoreBus):
    """The embedded default: subscribers poll every `poll_interval_s` (and wake on local publishes).

    Works on any store; SQLite serialises writers, so seqs commit in order and no gaps arise.
    """


def _append(store: Store, topic: str, key: str | None, payload: str, now: datetime) -> Event:
    with store.begin() as conn:
        return _db.append(conn, topic=topic, key=key, payload=payload, now=now)


def _read_after(
    store: Store, after_seq: int, topics: frozenset[str] | None, now: datetime
) -> tuple[list[Event], datetime]:
    with store.connect() as conn:
        return _db.read_after(conn, after_seq=after_seq, topics=topics, limit=_BATCH, now=now)


def _read_tail(store: Store, now: datetime) -> tuple[list[Event], datetime]:
    with store.connect() as conn:
        return _db.read_tail(conn, limit=_TAIL, now=now)


__all__ = ["SQLiteBus", "StoreBus"]
