"""`AuditLog`: the async face that appends entries through a durable spool with group commit.

`await log.append(entry)` returns the entry's sequence number once it is on disk (fsync'd).
Appends that arrive while a batch is being written wait together and share the next `fsync`,
so throughput grows with concurrency. The spool is bounded (`max_pending`): when it is full,
callers wait (back-pressure) — memory never holds more than two spools' worth (the one being
written and the one filling). Dropping instead of waiting is possible only when configured
(`drop_when_full`), and every drop is counted in `stats.dropped` and logged as an alarm.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from zerogate.audit._checkpoint import Checkpoint, load_or_create_signer
from zerogate.audit._entry import AuditEntry
from zerogate.audit._errors import AuditError
from zerogate.audit._masking import Masks, refuse_secrets
from zerogate.audit._note import NoteSigner
from zerogate.audit._retention import RetentionCut, apply_retention
from zerogate.audit._storage import Recovery, Storage
from zerogate.clock import Clock, SystemClock

log = logging.getLogger("zerogate.audit")

DEFAULT_ORIGIN = "zerogate.local/audit"
_MAX_ENTRY_CHARS = 16 * 1024


@dataclass(slots=True)
class AuditStats:
    """Counters of one open log (for metrics): appended, dropped, batches, the spool's peak."""

    appended: int = 0
    dropped: int = 0
    batches: int = 0
    high_water: int = 0  # the most entries ever waiting in the spool at once
    kinds: Counter[str] = field(default_factory=Counter)  # appended, by `EventKind` value


@dataclass(frozen=True, slots=True)
class LogOptions:
    origin: str = DEFAULT_ORIGIN
    masks: Masks = Masks()  # noqa: RUF009 - frozen, safe to share
    max_pending: int = 10_000
    drop_when_full: bool = False
    segment_bytes: int = 64 * 1024 * 1024
    checkpoint_interval_s: float = 60.0  # 0: only on demand and at close
    retention_days: float = 0.0  # 0: keep forever
    retention_bytes: int = 0  # 0: no size limit
    # A small batch waits this long for company before it is written: each write costs an fsync
    # and a thread hop (~0.2 ms of CPU on this class of machine), so under load a few ms of
    # waiting turns many one-entry batches into one (measured in bench/gateway.py, row C).
    commit_delay_s: float = 0.002
    commit_batch: int = 64  # a spool this full is written at once


class AuditLog:
    """An open, append-only audit log in a directory (one writer process at a time)."""

    def __init__(self, storage: Storage, options: LogOptions, clock: Clock) -> None:
        self._storage = storage
        self._options = options
        self._clock = clock
        self.stats = AuditStats()
        self._pending: list[AuditEntry] = []
        self._done: asyncio.Future[int] | None = None
        self._wake = asyncio.Event()
        self._flush = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._closing = False
        self._failed: BaseException | None = None
        self._writer: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        signer: NoteSigner | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> _Opening:
        """Open (or create) the log: `async with AuditLog.open(dir) as log` or `await ...`.

        `signer` defaults to `checkpoint.key` in the directory (created, mode 0600). Options
        are the fields of `LogOptions` (origin, masks, max_pending, drop_when_full, ...).
        """
        return _Opening(cls, directory, signer, clock or SystemClock(), LogOptions(**options))

    @property
    def recovery(self) -> Recovery:
        """What opening repaired (a torn tail after a crash), for the caller to report."""
        return self._storage.recovery

    @property
    def size(self) -> int:
        """Entries durably in the log (including any cut by retention)."""
        return self._storage.size

    @property
    def spooled(self) -> int:
        """Entries waiting in the spool for the next group commit (for metrics)."""
        return len(self._pending)

    @property
    def origin(self) -> str:
        return self._options.origin

    @property
    def signer(self) -> NoteSigner:
        return self._storage.signer

    def _start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="audit-writer")
        if self._options.checkpoint_interval_s > 0:
            self._ticker = asyncio.create_task(self._tick_loop(), name="audit-checkpoints")

    async def append(self, entry: AuditEntry) -> int | None:
        """Record `entry`; returns its sequence number once it is durable.

        Raises AuditError for an entry that holds a secret (`audit_secret_refused`) or is
        malformed, and if the log is closed or failed. Returns None only when the spool was
        full and the log is configured to drop (`drop_when_full`).
        """
        entry = self._options.masks.apply(entry)
        _check(entry)
        while len(self._pending) >= self._options.max_pending:
            if self._options.drop_when_full:
                self.stats.dropped += 1
                log.error(
                    "audit log: spool full, entry dropped", extra={"dropped": self.stats.dropped}
                )
                return None
            self._space.clear()
            await self._space.wait()
        if self._closing or self._failed is not None:
            raise AuditError("the audit log is closed", code="audit_closed") from self._failed
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        index = len(self._pending)
        self._pending.append(entry)
        self.stats.high_water = max(self.stats.high_water, index + 1)
        done = self._done
        self._wake.set()
        if index + 1 >= self._options.commit_batch:
            self._flush.set()
        first = await asyncio.shield(done)
        return first + index

    def submit(self, entry: AuditEntry) -> asyncio.Future[int]:
        """Put `entry` in the spool without waiting; the future gets its sequence number once
        it is durable (or the write's AuditError). For callers that must not block, such as
        the check answering a request: the entry is written with the next group commit.

        Raises AuditError at once for a secret or a malformed entry, when the log is closed,
        and when the spool is full (`audit_spool_full`): there is no waiting here. With
        `drop_when_full` a full spool drops the entry instead (counted in `stats.dropped`) and
        the future holds -1.
        """
        entry = self._options.masks.apply(entry)
        _check(entry)
        if self._closing or self._failed is not None:
            raise AuditError("the audit log is closed", code="audit_closed") from self._failed
        loop = asyncio.get_running_loop()
        if len(self._pending) >= self._options.max_pending:
            if not self._options.drop_when_full:
                raise AuditError(
                    "the audit spool is full: the disk is not keeping up",
                    code="audit_spool_full",
                    status=503,
                )
            self.stats.dropped += 1
            log.error("audit log: spool full, entry dropped", extra={"dropped": self.stats.dropped})
            dropped: asyncio.Future[int] = loop.create_future()
            dropped.set_result(-1)
            return dropped
        if self._done is None:
            self._done = loop.create_future()
        index = len(self._pending)
        self._pending.append(entry)
        self.stats.high_water = max(self.stats.high_water, index + 1)
        self._wake.set()
        if index + 1 >= self._options.commit_batch:
            self._flush.set()
        mine: asyncio.Future[int] = loop.create_future()
        self._done.add_done_callback(lambda done: _settle(mine, done, index))
        return mine

    async def _write_loop(self) -> None:
        delay, enough = self._options.commit_delay_s, self._options.commit_batch
        while True:
            await self._wake.wait()
            if delay > 0 and not self._closing and 0 < len(self._pending) < enough:
                # Let concurrent appends share this fsync; a close or a full batch ends the wait.
                self._flush.clear()
                timer = asyncio.get_running_loop().call_later(delay, self._flush.set)
                await self._flush.wait()
                timer.cancel()
            self._wake.clear()
            if not self._pending:
                if self._closing:
                    return
                continue
            batch, done = self._pending, self._done
            self._pending, self._done = [], None
            self._space.set()
            assert done is not None
            try:
                first = await asyncio.to_thread(self._storage.write_batch, batch, self._clock.now())
            except BaseException as exc:  # the log stops taking entries: fail closed
                self._fail(exc, done)
                if not isinstance(exc, Exception):
                    raise
                log.exception("audit log: write failed; no further entries are accepted")
                return
            self.stats.appended += len(batch)
            self.stats.kinds.update(str(entry.kind) for entry in batch)
            self.stats.batches += 1
            done.set_result(first)
            if self._pending or self._closing:  # a close that came mid-batch is seen next round
                self._wake.set()

    def _fail(self, exc: BaseException, done: asyncio.Future[int]) -> None:
        self._failed = exc
        error = AuditError(f"audit log write failed: {exc}", code="audit_write_failed")
        for waiting in (done, self._done):
            if waiting is not None and not waiting.done():
                waiting.set_exception(error)
        self._pending, self._done = [], None
        self._space.set()

    async def _tick_loop(self) -> None:
        interval = self._options.checkpoint_interval_s
        while True:
            await asyncio.sleep(interval)
            await self.checkpoint()
            await self.apply_retention()

    async def checkpoint(self) -> Checkpoint:
        """Sign a checkpoint of everything durable now (on demand; also every interval)."""
        return await asyncio.to_thread(self._storage.checkpoint)

    async def apply_retention(self) -> RetentionCut | None:
        """Cut sealed segments past the configured age and size (also every interval)."""
        days, limit = self._options.retention_days, self._options.retention_bytes
        if days <= 0 and limit <= 0:
            return None
        older = self._clock.now() - timedelta(days=days) if days > 0 else None
        return await asyncio.to_thread(
            apply_retention, self._storage, older_than=older, max_bytes=limit or None
        )

    async def close(self) -> None:
        """Write what is spooled, sign a final checkpoint and release the directory."""
        if self._closing:
            return
        self._closing = True
        self._flush.set()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        self._wake.set()
        self._space.set()
        if self._writer is not None:
            await self._writer
        try:
            if self._failed is None:
                await self.checkpoint()
        finally:
            self._storage.close()

    async def __aenter__(self) -> AuditLog:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _settle(mine: asyncio.Future[int], done: asyncio.Future[int], index: int) -> None:
    if mine.done():
        return
    if done.cancelled():
        mine.cancel()
    elif (exc := done.exception()) is not None:
        mine.set_exception(exc)
    else:
        mine.set_result(done.result() + index)


def _check(entry: AuditEntry) -> None:
    problems = entry.problems()
    chars = sum(len(v) for v in entry.attrs.values()) + sum(len(p) for p in entry.policies)
    chars += len(entry.reason) + len(entry.principal) + len(entry.resource)
    if chars > _MAX_ENTRY_CHARS:
        problems.append(("", f"an entry holds at most {_MAX_ENTRY_CHARS} characters of text"))
    if problems:
        from zerogate.errors import ErrorDetail

        raise AuditError(
            "invalid audit entry",
            code="audit_entry_invalid",
            status=400,
            details=[ErrorDetail("audit_entry_invalid", loc, msg) for loc, msg in problems],
        )
    refuse_secrets(entry)


class _Opening:
    """`AuditLog.open(...)`: awaitable, or an async context manager that closes the log."""

    def __init__(
        self,
        cls: type[AuditLog],
        directory: Path,
        signer: NoteSigner | None,
        clock: Clock,
        options: LogOptions,
    ) -> None:
        self._args = (cls, directory, signer, clock, options)
        self._log: AuditLog | None = None

    async def _open(self) -> AuditLog:
        cls, directory, signer, clock, options = self._args
        if options.max_pending < 1:
            raise AuditError("max_pending is at least 1", code="audit_invalid", status=400)

        def blocking() -> Storage:
            key = signer or load_or_create_signer(directory, options.origin)
            storage = Storage(
                directory, origin=options.origin, signer=key, segment_bytes=options.segment_bytes
            )
            try:
                storage.open()
            except BaseException:
                storage.close()
                raise
            return storage

        storage = await asyncio.to_thread(blocking)
        audit = cls(storage, options, clock)
        audit._start()
        return audit

    def __await__(self) -> Generator[Any, None, AuditLog]:
        return self._open().__await__()

    async def __aenter__(self) -> AuditLog:
        self._log = await self._open()
        return self._log

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._log is not None:
            await self._log.close()
