"""The change feed: durable, ordered events pushed to every PEP and PDP (SQLite or PostgreSQL)."""

from zerogate.control.events._inproc import InProcessBus
from zerogate.control.events._model import Event, EventBus
from zerogate.control.events._open import open_bus
from zerogate.control.events._outbox import append_event
from zerogate.control.events._polling import SQLiteBus
from zerogate.control.events._postgres import PostgresBus

__all__ = [
    "Event",
    "EventBus",
    "InProcessBus",
    "PostgresBus",
    "SQLiteBus",
    "append_event",
    "open_bus",
]
