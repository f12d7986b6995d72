"""Reading the log without writing it: records in order, one entry by seq, tail and search,
and an inclusion proof for one entry against the latest signed checkpoint (LOG-23).

Readers may run beside a live writer: a record still being written ends the iteration.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from zerogate.audit._checkpoint import Checkpoint, CheckpointStore, open_checkpoint
from zerogate.audit._entry import AuditRecord, EventKind, Outcome
from zerogate.audit._errors import AuditError, ProofError
from zerogate.audit._layout import Layout, read_cut
from zerogate.audit._merkle import CompactRange, leaf_hash, verify_inclusion
from zerogate.audit._note import NoteVerifier
from zerogate.audit._segments import iter_payloads, payload_at, read_segment, segment_paths
from zerogate.audit._tree import HashTree


def read_records(directory: Path, *, start: int = 0) -> Iterator[AuditRecord]:
    """Every complete record from sequence number `start` on."""
    for _seq, payload in iter_payloads(Layout(directory).segments, start_seq=start):
        yield AuditRecord.from_bytes(payload)


def read_entry(directory: Path, seq: int) -> bytes:
    """The stored bytes of entry `seq`; AuditError(`audit_entry_not_found`) if there is none."""
    segments = segment_paths(Layout(directory).segments)
    for index, (first, path) in enumerate(segments):
        following = segments[index + 1][0] if index + 1 < len(segments) else None
        if first <= seq and (following is None or seq < following):
            found = payload_at(path, seq - first)
            if found is not None:
                return found
    raise AuditError(f"no audit entry {seq}", code="audit_entry_not_found", status=404)


def tail(directory: Path, count: int) -> list[AuditRecord]:
    """The last `count` records (reads only the segments it needs)."""
    found: list[AuditRecord] = []
    for first, path in reversed(segment_paths(Layout(directory).segments)):
        del first
        records = read_segment(path).records
        found[:0] = [AuditRecord.from_bytes(r) for r in records[-(count - len(found)) :]]
        if len(found) >= count:
            break
    return found[-count:] if count else []


@dataclass(frozen=True, slots=True)
class Search:
    """Exact-match filters (all given ones must hold) and a time window, newest last."""

    kind: EventKind | None = None
    decision: Outcome | None = None
    principal: str | None = None
    resource: str | None = None
    decision_id: str | None = None
    trace_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, record: AuditRecord) -> bool:
        entry = record.entry
        for name in ("kind", "decision", "principal", "resource", "decision_id", "trace_id"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(entry, name) != wanted:
                return False
        if self.since is not None and record.time < self.since:
            return False
        return self.until is None or record.time <= self.until


def search(directory: Path, query: Search, *, limit: int = 100) -> list[AuditRecord]:
    """The first `limit` records matching `query`, in log order."""
    found = []
    for record in read_records(directory):
        if query.matches(record):
            found.append(record)
            if len(found) >= limit:
                break
    return found


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Entry `record` (bytes `entry`) is leaf `record.seq` of the tree in `checkpoint`."""

    record: AuditRecord
    entry: bytes
    checkpoint: Checkpoint
    note: str
    hashes: tuple[bytes, ...]

    def verify(self, key: NoteVerifier | Sequence[NoteVerifier]) -> None:
        """Check the signature (LOG-20) and the path (LOG-23); raises AuditError."""
        verifiers = [key] if isinstance(key, NoteVerifier) else list(key)
        signed = open_checkpoint(self.note, verifiers, origin=self.checkpoint.origin)
        verify_inclusion(
            leaf_hash(self.entry),
            index=self.record.seq,
            size=signed.size,
            proof=self.hashes,
            root=signed.root,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.record.seq,
            "entry": self.record.as_dict(),
            "leaf_hash": leaf_hash(self.entry).hex(),
            "tree_size": self.checkpoint.size,
            "root": base64.b64encode(self.checkpoint.root).decode(),
            "proof": [base64.b64encode(h).decode() for h in self.hashes],
            "checkpoint": self.note,
        }


def prove(
    directory: Path,
    seq: int,
    key: NoteVerifier | Sequence[NoteVerifier],
    *,
    origin: str | None = None,
) -> InclusionProof:
    """Entry `seq` with its inclusion proof against the latest checkpoint, self-checked."""
    verifiers = [key] if isinstance(key, NoteVerifier) else list(key)
    origin = origin or verifiers[0].name
    layout = Layout(directory)
    latest = CheckpointStore(layout.checkpoints).latest()
    if latest is None:
        raise AuditError("the log has no checkpoint yet", code="audit_not_checkpointed")
    note = latest[1]
    checkpoint = open_checkpoint(note, verifiers, origin=origin)
    cut = read_cut(layout.cut, verifiers, origin=origin)
    frontier = cut.frontier if cut is not None else CompactRange()
    if seq < frontier.size:
        raise AuditError(
            f"entry {seq} was removed by retention (the log starts at {frontier.size})",
            code="audit_entry_not_found",
            status=404,
        )
    if seq >= checkpoint.size:
        raise AuditError(
            f"entry {seq} is not covered by the latest checkpoint ({checkpoint.size} entries) "
            "yet: wait for the next one",
            code="audit_not_checkpointed",
            status=404,
        )
    entry = read_entry(directory, seq)
    record = AuditRecord.from_bytes(entry)
    for rebuild in (False, True):
        tree = _tree(layout, frontier, checkpoint.size, rebuild=rebuild)
        hashes = tuple(tree.inclusion_proof(seq, checkpoint.size))
        try:
            verify_inclusion(
                leaf_hash(entry),
                index=seq,
                size=checkpoint.size,
                proof=hashes,
                root=checkpoint.root,
            )
        except ProofError:
            continue  # a stale or damaged cache first; the entries themselves the second time
        return InclusionProof(record, entry, checkpoint, note, hashes)
    raise AuditError(
        f"entry {seq} is not in the tree of checkpoint {checkpoint.size}: the log was altered",
        code="audit_root_mismatch",
    )


def _tree(layout: Layout, frontier: CompactRange, size: int, *, rebuild: bool) -> HashTree:
    if not rebuild:
        mapped = HashTree.load(layout.tree, frontier, limit=size, readonly=True)
        if mapped.size == size:
            return mapped
    tree = HashTree(frontier) if rebuild else HashTree.load(layout.tree, frontier, limit=size)
    if tree.size < size:
        for seq, payload in iter_payloads(layout.segments, start_seq=tree.size):
            if seq >= size:
                break
            tree.append(leaf_hash(payload))
    return tree
