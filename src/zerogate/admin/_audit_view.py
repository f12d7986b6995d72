"""The console's view of the audit log: search (newest first) and whether the log verifies.

Both only read the log's files, as `zerogate audit search|verify` do, so they run beside the
writer (a record still being written ends a read). Verification replays the whole log, so it
runs in a thread and its result is kept for a few seconds.

The checkpoint key comes from `[audit] public_key` when set (pinned: the verification means
something against whoever controls the log's directory), else from `checkpoint.vkey` in the
log's own directory, which the page flags: that only proves the log is consistent with itself
(LOG-20, docs/audit.md).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from zerogate.audit import (
    VKEY_FILE,
    AuditError,
    AuditRecord,
    NoteVerifier,
    Search,
    read_records,
    verify_log,
)
from zerogate.clock import Clock

VERIFY_CACHE_S = 10.0


@dataclass(frozen=True, slots=True)
class Verification:
    """The log's state as the last verification found it."""

    status: str  # verified | failed
    key_source: str  # pinned | log_directory | none
    checked_at: datetime
    size: int = 0
    start: int = 0
    checkpoint_size: int | None = None
    checkpoints: int = 0
    unsigned: int = 0
    error_code: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "key_source": self.key_source,
            "checked_at": self.checked_at.isoformat(),
            "size": self.size,
            "start": self.start,
            "checkpoint_size": self.checkpoint_size,
            "checkpoints": self.checkpoints,
            "unsigned": self.unsigned,
            "error_code": self.error_code,
            "error": self.error,
        }


class AuditView:
    """Reads and verifies the audit log in `directory` (see the module docstring)."""

    def __init__(self, directory: Path, *, public_key: str, origin: str, clock: Clock) -> None:
        self.directory = directory
        self._public_key = public_key.strip()
        self._origin = origin
        self._clock = clock
        self._last: tuple[float, Verification] | None = None
        self._lock = asyncio.Lock()

    async def search(self, query: Search, *, limit: int) -> list[AuditRecord]:
        """The newest `limit` records matching `query`, newest first."""
        return await asyncio.to_thread(self._search, query, limit)

    def _search(self, query: Search, limit: int) -> list[AuditRecord]:
        if not self.directory.is_dir():
            return []
        found: deque[AuditRecord] = deque(maxlen=limit)
        for record in read_records(self.directory):
            if query.matches(record):
                found.append(record)
        return list(reversed(found))

    async def verification(self) -> Verification:
        """The log verified at most VERIFY_CACHE_S ago (verified again if older)."""
        async with self._lock:  # one replay at a time, however many pages ask
            now = self._clock.monotonic()
            if self._last is not None and now - self._last[0] < VERIFY_CACHE_S:
                return self._last[1]
            result = await asyncio.to_thread(self._verify)
            self._last = (self._clock.monotonic(), result)
            return result

    def _verify(self) -> Verification:
        at = self._clock.now()
        source = "pinned" if self._public_key else "log_directory"
        try:
            verifier = self._verifier()
            checked = verify_log(self.directory, verifier, origin=self._origin)
        except AuditError as exc:
            source = "none" if exc.code == "audit_key_missing" else source
            return Verification("failed", source, at, error_code=exc.code, error=exc.message)
        latest = checked.latest
        return Verification(
            "verified",
            source,
            at,
            size=checked.size,
            start=checked.start,
            checkpoint_size=latest.size if latest is not None else None,
            checkpoints=checked.checkpoints,
            unsigned=checked.unsigned,
        )

    def _verifier(self) -> NoteVerifier:
        if self._public_key:
            return NoteVerifier.from_vkey(self._public_key)
        fallback = self.directory / VKEY_FILE
        if not fallback.is_file():
            raise AuditError("no checkpoint key: set [audit] public_key", code="audit_key_missing")
        return NoteVerifier.from_vkey(fallback.read_text(encoding="utf-8"))


__all__ = ["VERIFY_CACHE_S", "AuditView", "Verification"]
