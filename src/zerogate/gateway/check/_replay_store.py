"""The webhook replay cache in the store, shared by every check replica on that database.

A replica asks its own in-memory `ReplayCache` first (a replay it accepted itself is refused
without a round trip), then claims the message in `webhook_replays`: the insert is the check,
so two replicas racing on one message cannot both win. A row whose expiry passed may be claimed
again (it could no longer verify anyway); `run_cleanup` deletes expired rows now and then.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete
from sqlalchemy.dialects import postgresql, sqlite

from zerogate.clock import Clock
from zerogate.store import Store, webhook_replays

CLEANUP_INTERVAL_S = 60.0
_log = logging.getLogger("zerogate.gateway.check")


class StoreReplayCache:
    """Claims on accepted webhook messages, in the shared store (SQLite or PostgreSQL)."""

    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()

    def route(self, route_id: str) -> RouteReplays:
        """The claims of one webhook route (a `WebhookVerifier`'s `shared` cache)."""
        return RouteReplays(self, route_id)

    async def claim(self, route: str, digest: bytes, *, keep_s: float) -> bool:
        """Record the message; False if a live record of it exists already (a replay)."""
        now = self._clock.now()
        expires = now + timedelta(seconds=keep_s)
        return await asyncio.to_thread(self._claim, route, digest.hex(), now, expires)

    def release(self, route: str, digest: bytes) -> None:
        """Undo a claim (the accepted request was refused after all); runs in the background."""

        def forget() -> None:
            with self._store.begin() as conn:
                table = webhook_replays
                conn.execute(
                    delete(table).where(table.c.route == route, table.c.digest == digest.hex())
                )

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): do it here
            forget()
            return
        task = loop.create_task(asyncio.to_thread(forget))
        self._pending.add(task)
        task.add_done_callback(self._released)

    async def purge_expired(self) -> int:
        """Delete the rows that expired; returns how many."""
        now = self._clock.now()

        def purge() -> int:
            with self._store.begin() as conn:
                done = conn.execute(
                    delete(webhook_replays).where(webhook_replays.c.expires_at <= now)
                )
                return int(done.rowcount or 0)

        return await asyncio.to_thread(purge)

    async def run_cleanup(self, interval_s: float = CLEANUP_INTERVAL_S) -> None:
        """Purge expired rows every `interval_s` until cancelled; a failed round is retried."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.purge_expired()
            except Exception:
                _log.exception("webhook replay cleanup failed")

    def _claim(self, route: str, digest: str, now: datetime, expires: datetime) -> bool:
        table = webhook_replays
        with self._store.begin() as conn:
            insert = _insert(conn)
            stmt = insert(table).values(route=route, digest=digest, expires_at=expires)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.route, table.c.digest],
                set_={"expires_at": stmt.excluded.expires_at},
                where=table.c.expires_at <= now,  # only an expired record is taken over
            ).returning(table.c.route)
            return conn.execute(stmt).first() is not None

    def _released(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # The sender's retry of that request will be refused as a replay until it expires.
            _log.error("webhook replay release failed", exc_info=error)


class RouteReplays:
    """`StoreReplayCache` bound to one route id."""

    __slots__ = ("_cache", "_route")

    def __init__(self, cache: StoreReplayCache, route: str) -> None:
        self._cache = cache
        self._route = route

    async def claim(self, digest: bytes, *, keep_s: float) -> bool:
        return await self._cache.claim(self._route, digest, keep_s=keep_s)

    def release(self, digest: bytes) -> None:
        self._cache.release(self._route, digest)


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT with ON CONFLICT (both SQLite and PostgreSQL have it)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


__all__ = ["CLEANUP_INTERVAL_S", "RouteReplays", "StoreReplayCache"]
