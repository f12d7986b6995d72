"""Keeping a shared key ring current in a long-running service: rotate on schedule, see other
nodes' keys, drop expired ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from zerogate.clock import Clock
from zerogate.tokens import StoreKeyRing

MAINTENANCE_INTERVAL_S = (
    300.0  # well under the ring's publish delay (1 h): new keys are seen in time
)
log = logging.getLogger("zerogate.tokens")


@contextlib.asynccontextmanager
async def maintained(
    keys: StoreKeyRing | None, *, clock: Clock, interval_s: float = MAINTENANCE_INTERVAL_S
) -> AsyncIterator[None]:
    """Run `keys.maintain` every `interval_s` while the block runs (nothing if `keys` is None)."""
    if keys is None:
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await keys.maintain(clock.now())
            except Exception:  # a failed round is retried next time; signing keeps going
                log.exception("key maintenance failed")

    task = asyncio.create_task(loop(), name="key-maintenance")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
