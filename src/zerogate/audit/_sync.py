"""`SyncAuditLog`: the same log for synchronous callers (WSGI apps, scripts, the CLI).

It runs one `AuditLog` on an event loop in a background thread; `append()` blocks until the
entry is durable. Many threads appending at once share fsyncs exactly as async callers do.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

from zerogate.audit._checkpoint import Checkpoint
from zerogate.audit._entry import AuditEntry
from zerogate.audit._log import AuditLog, AuditStats
from zerogate.audit._note import NoteSigner
from zerogate.audit._retention import RetentionCut
from zerogate.audit._storage import Recovery
from zerogate.clock import Clock


class SyncAuditLog:
    """A blocking face over `AuditLog`; use it as a context manager or call `close()`."""

    def __init__(
        self,
        directory: Path,
        *,
        signer: NoteSigner | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="audit-log", daemon=True
        )
        self._thread.start()
        try:
            self._log: AuditLog = self._call(
                _opened(directory, signer=signer, clock=clock, **options)
            )
        except BaseException:
            self._stop()
            raise

    def _call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result()

    def append(self, entry: AuditEntry) -> int | None:
        """Record `entry`; returns its sequence number once it is durable (see AuditLog)."""
        return self._call(self._log.append(entry))  # type: ignore[no-any-return]

    def checkpoint(self) -> Checkpoint:
        return self._call(self._log.checkpoint())  # type: ignore[no-any-return]

    def apply_retention(self) -> RetentionCut | None:
        return self._call(self._log.apply_retention())  # type: ignore[no-any-return]

    @property
    def stats(self) -> AuditStats:
        return self._log.stats

    @property
    def recovery(self) -> Recovery:
        return self._log.recovery

    @property
    def size(self) -> int:
        return self._log.size

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._call(self._log.close())
        finally:
            self._stop()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncAuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _opened(directory: Path, **kwargs: Any) -> AuditLog:
    return await AuditLog.open(directory, **kwargs)
