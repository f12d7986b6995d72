"""Watches the settings file of a running server: each change is loaded again, as at start-up.

Polling (stat, then a SHA-256 of the bytes when the stat changed) needs no dependency and works
on every filesystem; a change made by `zerogate route add` is an atomic rename, so a reader never
sees half a file. Editors that write in place may be caught mid-write: that load fails, is
reported, and the next poll (after the write completes) loads the whole file.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from zerogate.config import Settings, load_settings
from zerogate.errors import ConfigError, ErrorDetail

POLL_INTERVAL_S = 1.0
_UNKNOWN = object()  # before the first poll


@dataclass(frozen=True, slots=True)
class SettingsSource:
    """Where the running settings came from: a file, then the environment (`ZEROGATE_*`)."""

    path: Path
    environ: Mapping[str, str]

    def load(self) -> Settings:
        return load_settings(self.path, environ=self.environ)

    async def watch(
        self, *, interval_s: float = POLL_INTERVAL_S
    ) -> AsyncIterator[Settings | ConfigError]:
        """After each content change: the new Settings, or the ConfigError saying why not.

        The first poll loads the file as it is then (if there is one): a change made between
        start-up and the first poll is not lost, and an unchanged file changes nothing.
        """
        stamp: object = _UNKNOWN
        digest: object = _UNKNOWN
        while True:
            await asyncio.sleep(interval_s)
            now = _stamp(self.path)
            if now == stamp:
                continue
            stamp = now
            new_digest = await asyncio.to_thread(_digest, self.path)
            first, digest_before = digest is _UNKNOWN, digest
            digest = new_digest
            if new_digest == digest_before or (first and new_digest is None):
                continue  # touched, rewritten with the same bytes, or still no file
            if new_digest is None:
                yield ConfigError(
                    f"{self.path} is gone",
                    code="config_not_found",
                    details=[ErrorDetail("config_not_found", str(self.path), "no such file")],
                )
                continue
            try:
                yield await asyncio.to_thread(self.load)
            except ConfigError as exc:
                yield exc


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _digest(path: Path) -> bytes | None:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None
