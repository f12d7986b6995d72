"""Reloading a running Envoy through its watched files: plan the swaps, make them, confirm, undo.

A reload is a short sequence of file swaps, clusters first (make before break): new clusters
exist before a route names them, and removed ones outlive the routes that named them. After each
swap Envoy must report the new version on its admin API; a rejection puts the previous file
back, so that a later restart of Envoy finds a configuration it accepts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from zerogate.errors import ConfigError, ErrorDetail, ZerogateError
from zerogate.gateway.envoy._admin import EnvoyAdmin
from zerogate.gateway.envoy._logs import EnvoyLogRelay
from zerogate.gateway.envoy._xds import XdsDocument, XdsKind, XdsLayout, XdsSnapshot, merge_clusters


class EnvoyError(ZerogateError):
    """Envoy did not start, did not become ready, or did not take a configuration in time."""

    code = "envoy_failed"
    status = 503


def plan(current: Mapping[XdsKind, XdsDocument], new: XdsSnapshot) -> list[list[XdsDocument]]:
    """The swaps from `current` to `new`, in order; each inner list is swapped together."""
    old_cds = current[XdsKind.CDS]
    merged = merge_clusters(old_cds, new.cds)
    steps = [
        [merged] if merged.version != old_cds.version else [],
        [d for d in (new.rds, new.lds) if d.version != current[d.kind].version],
        [new.cds] if new.cds.version != merged.version else [],
    ]
    return [step for step in steps if step]


class XdsReloader:
    """Owns the files in `layout` and what they hold; confirms each swap on the admin API."""

    def __init__(
        self,
        layout: XdsLayout,
        admin: EnvoyAdmin,
        *,
        relay: Callable[[], EnvoyLogRelay | None],
        closing: Callable[[], bool],
        timeout_s: float,
        poll_s: float,
    ) -> None:
        self.layout = layout
        self.documents: dict[XdsKind, XdsDocument] = {}
        self._admin = admin
        self._relay = relay
        self._closing = closing
        self._timeout_s = timeout_s
        self._poll_s = poll_s

    def write_all(self, snapshot: XdsSnapshot) -> None:
        """Before Envoy starts: all three files, clusters first."""
        for document in (snapshot.cds, snapshot.rds, snapshot.lds):
            self.layout.write(document)
            self.documents[document.kind] = document

    async def confirm_all(self) -> None:
        """Wait until Envoy reports the versions of every file (after a start)."""
        await self._confirm(list(self.documents.values()), rejected_before=None, sequence=0)

    async def swap(self, documents: list[XdsDocument]) -> None:
        """Write `documents` and wait until Envoy reports their versions; undo a rejection."""
        previous = {d.kind: self.documents[d.kind] for d in documents}
        names = [f"{d.kind.version_stat}.update_rejected" for d in documents]
        before = await self._admin.stats(names) or {}
        relay = self._relay()
        sequence = relay.sequence if relay is not None else 0
        for document in documents:
            self.layout.write(document)
            self.documents[document.kind] = document
        try:
            await self._confirm(documents, rejected_before=before, sequence=sequence)
        except ConfigError:
            for kind, document in previous.items():
                self.layout.write(document)
                self.documents[kind] = document
            raise

    async def _confirm(
        self,
        documents: list[XdsDocument],
        *,
        rejected_before: Mapping[str, str] | None,
        sequence: int,
    ) -> None:
        wanted = {f"{d.kind.version_stat}.version_text": d.version for d in documents}
        rejected = [f"{d.kind.version_stat}.update_rejected" for d in documents]
        try:
            async with asyncio.timeout(self._timeout_s):
                while True:
                    if self._closing():
                        raise EnvoyError("the gateway is closing", code="envoy_closed")
                    stats = await self._admin.stats([*wanted, *rejected])
                    if stats is not None:
                        if all(stats.get(name) == version for name, version in wanted.items()):
                            return
                        if rejected_before is not None and any(
                            _count(stats.get(n)) > _count(rejected_before.get(n)) for n in rejected
                        ):
                            raise self._rejection(sequence)
                    await asyncio.sleep(self._poll_s)
        except TimeoutError:
            raise EnvoyError(
                f"envoy did not report the new configuration within {self._timeout_s:g} s",
                code="envoy_update_timeout",
            ) from None

    def _rejection(self, sequence: int) -> ConfigError:
        relay = self._relay()
        lines = relay.since(sequence) if relay is not None else []
        reason = "; ".join(lines[-5:]) or "no message from envoy"
        return ConfigError(
            "Envoy rejected the new configuration; the previous one stays",
            code="envoy_update_rejected",
            details=[ErrorDetail("envoy_update_rejected", "gateway", reason)],
        )


def _count(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
