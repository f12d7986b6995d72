"""`open_bus`: the event bus that fits a store, chosen by its dialect."""

from __future__ import annotations

from zerogate.clock import Clock
from zerogate.control.events._model import EventBus
from zerogate.control.events._polling import SQLiteBus
from zerogate.control.events._postgres import PostgresBus
from zerogate.store import Store


def open_bus(store: Store, *, poll_interval_s: float, clock: Clock | None = None) -> EventBus:
    """PostgresBus (LISTEN/NOTIFY) on PostgreSQL, SQLiteBus (polling) on SQLite."""
    if store.dialect == "postgresql":
        return PostgresBus(store, poll_interval_s=poll_interval_s, clock=clock)
    return SQLiteBus(store, poll_interval_s=poll_interval_s, clock=clock)


__all__ = ["open_bus"]
