"""The audit of what Envoy decides by itself (docs/audit.md "The fast path").

GETs let through on a decision token never reach the check. Envoy writes a JSON line for each
token it turns away from the deny list, and with `[audit] fast_path = "all"` for each such GET
(`zerogate.gateway.envoy.FastPathLine`); `FastPathAudit` reads the file as it grows, turns
every line into a decision entry that names the check's decision the token was minted on, and
keeps the file small: past `max_bytes` it renames the file, asks Envoy to reopen its logs (it
starts a new file at the same path), reads the renamed one to its end and removes it.

Lines are read at least once: the offset moves past a line only after its entry is durable,
and a line cut short at the end of the file waits for the rest of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from zerogate.app._audit_service import trace_id_of
from zerogate.audit import AuditEntry, AuditLog, EventKind, Outcome
from zerogate.gateway.envoy import EnvoyProcess, FastPathLine

log = logging.getLogger("zerogate.app")

POLL_S = 0.25
MAX_BYTES = 8 * 1024 * 1024
DRAIN_QUIET_S = 2.0  # a renamed file unchanged this long after the reopen is finished
_READ_BYTES = 1024 * 1024
REVOKED_REASON = "the decision token was on the deny list; the browser was sent to the check"


def fast_path_entry(line: FastPathLine, resource_id: str = "") -> AuditEntry:
    """One request Envoy decided on a decision token, as an audit entry (`resource_id`: the
    Cedar route id of its Zerogate route)."""
    attrs = {
        "decided_by": "envoy",  # on a token the check minted: `decision_id` is that decision
        "status": str(line.status),
        "route": line.route_name,
        "ip": line.ip,
        "request_id": line.request_id[:128],
        "session": line.session_id[:16],
    }
    return AuditEntry(
        kind=EventKind.DECISION,
        decision=Outcome.DENY if line.revoked else Outcome.ALLOW,
        decision_id=line.decision_id,
        trace_id=trace_id_of(line.traceparent),
        principal=f'User::"{line.user}"' if line.user else "",
        resource=f'Route::"{resource_id}"' if resource_id else "",
        action=line.method,
        reason=REVOKED_REASON if line.revoked else "",
        policy_revision=line.epoch,
        attrs={k: v for k, v in attrs.items() if v},
    )


class FastPathAudit:
    """Follows Envoy's fast-path access log into the audit log (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        envoy: EnvoyProcess,
        audit: AuditLog,
        *,
        max_bytes: int = MAX_BYTES,
        poll_s: float = POLL_S,
    ) -> None:
        self._path = path
        self._envoy = envoy
        self._audit = audit
        self._max_bytes = max_bytes
        self._poll_s = poll_s
        self._offset = 0
        self.recorded = 0  # entries written (for tests and metrics)
        self.skipped = 0  # lines that were not ours

    async def run(self) -> None:
        """Follow the file until cancelled; a leftover rotated file is finished first."""
        await self._finish(self._rotated)
        while True:
            await self._read_new()
            if self._offset >= self._max_bytes:
                await self._rotate()
            await asyncio.sleep(self._poll_s)

    def _resource_of(self, route_name: str) -> str:
        """The Cedar route id of a Zerogate route, as Envoy runs it now (routes change live)."""
        for route in self._envoy.gateway.routes:
            if route.name == route_name:
                return route.resource_id or ""
        return ""

    @property
    def _rotated(self) -> Path:
        return self._path.with_name(self._path.name + ".1")

    async def _read_new(self) -> None:
        self._offset = await self._read(self._path, self._offset)

    async def _read(self, path: Path, offset: int) -> int:
        """Record every complete line of `path` after `offset`; the new offset."""
        while True:
            size, chunk = await asyncio.to_thread(_read_from, path, offset)
            if size < offset:  # a new file at this path (Envoy restarted, or it was removed)
                offset = 0
                continue
            end = chunk.rfind(b"\n")
            if end < 0:
                return offset  # a line being written: wait for the rest
            for raw in chunk[:end].split(b"\n"):
                await self._record(raw)
            offset += end + 1
            if len(chunk) < _READ_BYTES:
                return offset

    async def _record(self, raw: bytes) -> None:
        if not raw.strip():
            return
        line = FastPathLine.parse(raw)
        if line is None:
            self.skipped += 1
            log.warning("fast-path access log: skipped a line that is not ours")
            return
        await self._audit.append(fast_path_entry(line, self._resource_of(line.route_name)))
        self.recorded += 1

    async def _rotate(self) -> None:
        """Move the full file aside, have Envoy start a new one, and finish the old one."""
        await asyncio.to_thread(self._path.replace, self._rotated)
        if not await self._envoy.reopen_logs():
            log.warning("fast-path access log: Envoy did not answer /reopen_logs")
        offset, self._offset = self._offset, 0
        await self._finish(self._rotated, offset)

    async def _finish(self, path: Path, offset: int = 0) -> None:
        """Read a rotated file until Envoy has stopped writing to it, then remove it."""
        if not await asyncio.to_thread(path.exists):
            return
        quiet = 0.0
        while quiet < DRAIN_QUIET_S:
            moved = await self._read(path, offset)
            quiet = 0.0 if moved != offset else quiet + self._poll_s
            offset = moved
            await asyncio.sleep(self._poll_s)
        await asyncio.to_thread(path.unlink, missing_ok=True)


def _read_from(path: Path, offset: int) -> tuple[int, bytes]:
    """The file's size and up to _READ_BYTES from `offset` ((0, b"") when there is no file)."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < offset:
                return size, b""
            f.seek(offset)
            return size, f.read(_READ_BYTES)
    except FileNotFoundError:
        return 0, b""
