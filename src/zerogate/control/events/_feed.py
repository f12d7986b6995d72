"""Subscriber bookkeeping without I/O: the in-order cursor with gap handling, and wake-ups.

Why gaps: on PostgreSQL `seq` comes from a sequence, so a transaction can take seq 7, stall, and
commit after the one holding seq 8; a reader then sees 8 before 7. Advancing past 7 would lose it
for good. The cursor therefore stops at a gap and re-reads until the gap fills, or until the event
*after* the gap is `gap_timeout_s` old by the database's clock: by then the transaction holding
the missing seq (which took its seq earlier) has had that long to commit, and we treat it as rolled
back. Old gaps (aborted publishes) are passed at once because the event after them is already old.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from zerogate.control.events._model import Event


@dataclass(slots=True)
class FeedCursor:
    """The last seq delivered to one subscriber; `advance` only ever moves it forward in order."""

    seq: int
    gap_timeout_s: float

    def advance(self, rows: Iterable[Event], *, now: datetime) -> tuple[list[Event], bool]:
        """Events now safe to deliver (in seq order), and whether a young gap blocks the rest.

        `rows` are read in seq order with seq > self.seq; `now` is the database clock at the read.
        """
        ready: list[Event] = []
        for event in rows:
            if event.seq <= self.seq:
                continue
            if event.seq != self.seq + 1 and not self._gap_expired(event, now):
                return ready, True
            ready.append(event)
            self.seq = event.seq
        return ready, False

    def _gap_expired(self, after_gap: Event, now: datetime) -> bool:
        return (now - after_gap.created_at).total_seconds() >= self.gap_timeout_s


def stable_frontier(
    tail: Sequence[Event], *, complete: bool, now: datetime, gap_timeout_s: float
) -> int:
    """The highest seq with no young gap at or below it, from the newest rows in seq order.

    A new subscriber that starts after this seq cannot miss an event still being committed.
    `complete` says `tail` is the whole feed; otherwise rows before it are taken as settled.
    """
    if not tail:
        return 0
    start = 0 if complete else tail[0].seq - 1
    cursor = FeedCursor(seq=start, gap_timeout_s=gap_timeout_s)
    cursor.advance(tail, now=now)
    return cursor.seq


class Wakeup:
    """Fans 'the feed may have changed' out to every waiting subscriber of one bus."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def register(self) -> asyncio.Event:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        return waiter

    def unregister(self, waiter: asyncio.Event) -> None:
        self._waiters.discard(waiter)

    def notify_all(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    @staticmethod
    async def wait(waiter: asyncio.Event, timeout_s: float | None) -> None:
        """Wait for a notification or the timeout, then re-arm (a missed set is never lost)."""
        if not waiter.is_set():
            try:
                async with asyncio.timeout(timeout_s):
                    await waiter.wait()
            except TimeoutError:
                pass
        waiter.clear()


def backoff_s(failures: int, *, base_s: float = 0.05, cap_s: float = 2.0) -> float:
    """Exponential back-off for reconnects and failed reads: 0.05 s doubling to `cap_s`."""
    return float(min(cap_s, base_s * (2 ** min(failures, 16))))


__all__ = ["FeedCursor", "Wakeup", "backoff_s", "stable_frontier"]
