"""`PostgresBus`: the store feed woken by LISTEN/NOTIFY, for several nodes sharing PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg import sql
from sqlalchemy import URL

from zerogate.clock import Clock
from zerogate.control.events._db import CHANNEL
from zerogate.control.events._feed import backoff_s
from zerogate.control.events._polling import StoreBus
from zerogate.store import Store

log = logging.getLogger(__name__)

APPLICATION_NAME = "zerogate-events"


def libpq_dsn(url: URL) -> str:
    """The store URL as a libpq URI for psycopg (query options such as sslmode carry over)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBus(StoreBus):
    """Publishes with NOTIFY in the publishing transaction; one LISTEN connection wakes subscribers.

    Notifications only say "look": subscribers always read the table, so a lost NOTIFY costs
    latency, never events. While listening, idle subscribers still re-read every
    `catchup_interval_s`; while the listener is down they poll every `poll_interval_s`, and it
    reconnects with back-off, waking everyone to catch up from their last seq.
    """

    def __init__(
        self,
        store: Store,
        *,
        poll_interval_s: float = 0.2,
        catchup_interval_s: float = 5.0,
        gap_timeout_s: float = 2.0,
        gap_retry_s: float = 0.05,
        connect_timeout_s: int = 5,
        clock: Clock | None = None,
    ) -> None:
        if store.dialect != "postgresql":
            raise ValueError("PostgresBus needs a PostgreSQL store")
        super().__init__(
            store,
            poll_interval_s=poll_interval_s,
            gap_timeout_s=gap_timeout_s,
            gap_retry_s=gap_retry_s,
            clock=clock,
        )
        self._dsn = libpq_dsn(store.url)
        self._redacted = store.redacted
        self._catchup_interval_s = catchup_interval_s
        self._connect_timeout_s = max(2, connect_timeout_s)
        self._listener: asyncio.Task[None] | None = None
        self._listening = False

    @property
    def listening(self) -> bool:
        """True while the LISTEN connection is up (subscribers then rely on notifications)."""
        return self._listening

    async def aclose(self) -> None:
        await super().aclose()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _on_subscribe(self) -> None:
        if self._listener is None and not self._closed:
            self._listener = asyncio.create_task(self._listen(), name="zerogate-events-listener")

    def _idle_wait_s(self) -> float:
        return self._catchup_interval_s if self._listening else self._poll_interval_s

    async def _listen(self) -> None:
        failures = 0
        while not self._closed:
            try:
                await self._listen_once()
            except Exception as exc:  # a supervisor: whatever broke, reconnect and catch up
                # Never log the DSN or the raw error text: they may carry the password.
                log.warning(
                    "event listener lost its connection; reconnecting",
                    extra={"store": self._redacted, "error": type(exc).__name__},
                )
            finally:
                if self._listening:
                    failures = 0  # it had connected: start the back-off afresh
                self._listening = False
            failures += 1
            await asyncio.sleep(backoff_s(failures))

    async def _listen_once(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._dsn,
            autocommit=True,
            application_name=APPLICATION_NAME,
            connect_timeout=self._connect_timeout_s,
        )
        async with conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
            self._listening = True
            self._wakeup.notify_all()  # catch up on anything published while we were not listening
            while not self._closed:
                async for _ in conn.notifies(timeout=self._catchup_interval_s):
                    self._wakeup.notify_all()
                # A quiet interval: prove the connection is alive (a dead peer sends no FIN,
                # so without a bounded round trip we could wait for TCP to give up: minutes).
                async with asyncio.timeout(self._connect_timeout_s):
                    await conn.execute("SELECT 1")


__all__ = ["APPLICATION_NAME", "PostgresBus", "libpq_dsn"]
