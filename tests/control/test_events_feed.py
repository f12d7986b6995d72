"""The subscriber cursor and wake-ups without a database: gap handling, frontier, back-off."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

import zerogate.control
import zerogate.control.events
from zerogate.control import Event
from zerogate.control.events._feed import FeedCursor, Wakeup, backoff_s, stable_frontier

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _event(seq: int, *, age_s: float = 0.0, topic: str = "t") -> Event:
    return Event(
        seq=seq, topic=topic, key=None, payload={}, created_at=NOW - timedelta(seconds=age_s)
    )


def test_feed_cursor_advances_through_contiguous_events() -> None:
    cursor = FeedCursor(seq=0, gap_timeout_s=2.0)
    ready, blocked = cursor.advance([_event(1), _event(2), _event(3)], now=NOW)
    assert [e.seq for e in ready] == [1, 2, 3]
    assert not blocked
    assert cursor.seq == 3


def test_feed_cursor_stops_at_a_young_gap() -> None:
    cursor = FeedCursor(seq=0, gap_timeout_s=2.0)
    ready, blocked = cursor.advance([_event(1), _event(3, age_s=1.9), _event(4)], now=NOW)
    assert [e.seq for e in ready] == [1]
    assert blocked
    assert cursor.seq == 1


def test_feed_cursor_passes_a_gap_once_the_next_event_is_old_enough() -> None:
    cursor = FeedCursor(seq=1, gap_timeout_s=2.0)
    ready, blocked = cursor.advance([_event(3, age_s=2.0), _event(5, age_s=0.1)], now=NOW)
    assert [e.seq for e in ready] == [3]
    assert blocked
    ready, blocked = cursor.advance([_event(4, age_s=0.1), _event(5, age_s=0.1)], now=NOW)
    assert [e.seq for e in ready] == [4, 5]
    assert not blocked


def test_feed_cursor_ignores_rows_it_already_delivered() -> None:
    cursor = FeedCursor(seq=2, gap_timeout_s=2.0)
    ready, _ = cursor.advance([_event(1), _event(2), _event(3)], now=NOW)
    assert [e.seq for e in ready] == [3]


def test_feed_stable_frontier_stops_before_young_gaps() -> None:
    tail = [_event(1, age_s=9), _event(3, age_s=9), _event(4), _event(6), _event(7)]
    assert stable_frontier(tail, complete=True, now=NOW, gap_timeout_s=2.0) == 4
    assert stable_frontier([_event(2)], complete=True, now=NOW, gap_timeout_s=2.0) == 0
    assert stable_frontier([_event(2)], complete=False, now=NOW, gap_timeout_s=2.0) == 2
    assert stable_frontier([], complete=True, now=NOW, gap_timeout_s=2.0) == 0


def test_feed_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff_s(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert backoff_s(50) == 2.0


def test_feed_wakeup_remembers_a_notification_sent_before_the_wait() -> None:
    async def scenario() -> bool:
        wakeup = Wakeup()
        waiter = wakeup.register()
        wakeup.notify_all()  # e.g. a publish while the subscriber was reading
        async with asyncio.timeout(1):
            await Wakeup.wait(waiter, 60.0)
        wakeup.unregister(waiter)
        return waiter.is_set()

    assert asyncio.run(scenario()) is False  # consumed and re-armed


def test_event_is_frozen_and_hashable() -> None:
    event = _event(1)
    with pytest.raises(AttributeError):
        event.seq = 2  # type: ignore[misc]
    assert hash(event) == hash(_event(1))


@pytest.mark.parametrize("module", [zerogate.control, zerogate.control.events])
def test_control_exports_are_sorted_and_resolve(module: object) -> None:
    names = list(module.__all__)  # type: ignore[attr-defined]
    assert names == sorted(names, key=_isort_style)  # the order ruff RUF022 keeps
    assert all(hasattr(module, name) for name in names)
    assert {"Event", "EventBus", "InProcessBus", "PostgresBus", "SQLiteBus", "open_bus"} <= set(
        names
    )


def _isort_style(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)
