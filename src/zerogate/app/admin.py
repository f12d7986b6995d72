"""A short-lived administrator for CLI commands: the store, the feed and PolicyAdmin, then closed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from zerogate.clock import SystemClock
from zerogate.config import Settings
from zerogate.control import PolicyAdmin, open_bus
from zerogate.store import open_store


@contextlib.asynccontextmanager
async def policy_admin(settings: Settings) -> AsyncIterator[PolicyAdmin]:
    """A PolicyAdmin on the configured store (migrated first), for one command's lifetime."""
    if settings.store_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_url)
    try:
        store.migrate()
        bus = open_bus(store, poll_interval_s=settings.events.poll_interval_s)
        try:
            yield PolicyAdmin(store, bus, clock=SystemClock())
        finally:
            await bus.aclose()
    finally:
        store.close()
