"""The writer's side of the files: recovery on open, durable batch appends, checkpoints, cuts.

Blocking I/O only, guarded by one lock; `AuditLog` calls it from a worker thread. A batch is
written with one `write` and one `fsync`: when `write_batch` returns, every entry in it survives
a crash (the group commit). On open, a torn tail left by a crash — a partial or unchecksummed
last record, never acknowledged — is truncated and reported in `recovery`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from zerogate.audit._checkpoint import (
    Checkpoint,
    CheckpointStore,
    open_checkpoint,
    sign_checkpoint,
    sync_directory,
)
from zerogate.audit._entry import MAX_ENTRY_BYTES, AuditEntry, AuditRecord, format_time
from zerogate.audit._errors import AuditError
from zerogate.audit._layout import Layout, read_cut
from zerogate.audit._merkle import CompactRange, leaf_hash
from zerogate.audit._note import NoteSigner
from zerogate.audit._segments import frame, iter_payloads, read_segment, segment_name, segment_paths
from zerogate.audit._tree import HashTree

log = logging.getLogger("zerogate.audit")


@dataclass(frozen=True, slots=True)
class Recovery:
    """What opening the log repaired: a torn tail of `truncated_bytes` in `segment`."""

    truncated_bytes: int = 0
    segment: str = ""
    problem: str = ""


class Storage:
    """An open audit directory, owned by this process (an exclusive lock) until `close()`."""

    def __init__(
        self, directory: Path, *, origin: str, signer: NoteSigner, segment_bytes: int
    ) -> None:
        self.layout = Layout(directory)
        self.origin = origin
        self.signer = signer
        self.segment_bytes = segment_bytes
        self.checkpoints = CheckpointStore(self.layout.checkpoints)
        self.lock = threading.Lock()
        self.recovery = Recovery()
        self.size = 0
        self.last_time: datetime | None = None
        self.checkpoint_size = -1
        self._lock_fd = -1
        self._fd = -1
        self._segment_size = 0
        self._tree = HashTree()
        self._held: list[int] = []

    # -- open and recover ----------------------------------------------------------------------

    def open(self) -> None:
        layout = self.layout
        for path in (layout.root, layout.segments, layout.checkpoints, layout.tree):
            path.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise AuditError(
                f"another process is writing the audit log in {layout.root}",
                code="audit_log_locked",
                loc=str(layout.root),
            ) from exc
        cut = read_cut(layout.cut, [self.signer.verifier()], origin=self.origin)
        frontier = cut.frontier if cut is not None else CompactRange()
        segments = self._finish_cut(frontier.size)
        if not segments:
            segments = [(frontier.size, self._create_segment(frontier.size))]
        if segments[0][0] != frontier.size:
            raise AuditError(
                f"the first segment starts at {segments[0][0]}, the log at {frontier.size}",
                code="audit_sequence_broken",
                loc=str(segments[0][1]),
            )
        first, path = segments[-1]
        self.size = first + self._recover_tail(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._segment_size = os.fstat(self._fd).st_size
        self.last_time = self._last_time(segments)
        self._tree = self._load_tree(frontier)
        self._check_latest_checkpoint(frontier)

    def _finish_cut(self, base: int) -> list[tuple[int, Path]]:
        """Segments wholly before the cut (a crash mid-cut left them) are removed now."""
        segments = segment_paths(self.layout.segments)
        while len(segments) > 1 and segments[1][0] <= base:
            segments.pop(0)[1].unlink()
        return segments

    def _recover_tail(self, path: Path) -> int:
        scanned = read_segment(path)
        if scanned.problem:
            torn = scanned.size - scanned.end
            with path.open("r+b") as out:
                out.truncate(scanned.end)
                os.fsync(out.fileno())
            self.recovery = Recovery(torn, path.name, scanned.problem)
            log.warning(
                "audit log: truncated a torn tail",
                extra={"segment": path.name, "bytes": torn, "problem": scanned.problem},
            )
        return len(scanned.records)

    def _last_time(self, segments: Sequence[tuple[int, Path]]) -> datetime | None:
        for _first, path in reversed(segments):
            records = read_segment(path).records
            if records:
                return AuditRecord.from_bytes(records[-1]).time
        return None

    def _load_tree(self, frontier: CompactRange) -> HashTree:
        tree = HashTree.load(self.layout.tree, frontier, limit=self.size)
        if tree.size < self.size:
            for _seq, payload in iter_payloads(self.layout.segments, start_seq=tree.size):
                tree.append(leaf_hash(payload))
        if tree.size != self.size:
            raise AuditError(
                f"read {tree.size} entries, expected {self.size}",
                code="audit_sequence_broken",
                loc=str(self.layout.segments),
            )
        tree.save(self.layout.tree)
        self._held = tree.held_bytes()
        return tree

    def _check_latest_checkpoint(self, frontier: CompactRange) -> None:
        """Never sign past a checkpoint our own entries contradict (LOG-10): fail closed."""
        latest = self.checkpoints.latest()
        if latest is None:
            return
        checkpoint = open_checkpoint(latest[1], [self.signer.verifier()], origin=self.origin)
        if checkpoint.size > self.size:
            raise AuditError(
                f"checkpoint {checkpoint.size} covers more entries than the log has ({self.size})",
                code="audit_rollback",
                loc=str(self.layout.checkpoints),
            )
        if self._tree.root(checkpoint.size) != checkpoint.root:
            # The cache may be stale or damaged: rebuild it from the entries once, then judge.
            (self.layout.tree / "level-00.bin").unlink(missing_ok=True)
            self._tree = self._load_tree(frontier)
            if self._tree.root(checkpoint.size) != checkpoint.root:
                raise AuditError(
                    f"the entries do not match checkpoint {checkpoint.size}",
                    code="audit_root_mismatch",
                    loc=str(self.layout.checkpoints),
                )
        self.checkpoint_size = checkpoint.size

    def _create_segment(self, first_seq: int) -> Path:
        path = self.layout.segments / segment_name(first_seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.close(fd)
        sync_directory(self.layout.segments)
        return path

    # -- append --------------------------------------------------------------------------------

    def write_batch(self, entries: Sequence[AuditEntry], now: datetime) -> int:
        """Stamp, write and fsync `entries`; returns the first one's sequence number."""
        with self.lock:
            if self._fd < 0:
                raise AuditError("the audit log is closed", code="audit_closed")
            if self._segment_size >= self.segment_bytes:
                self._rotate()
            first = self.size
            when = now if self.last_time is None or now >= self.last_time else self.last_time
            stamp = format_time(when)
            buf = bytearray()
            leaves = []
            dumps, option = orjson.dumps, orjson.OPT_SORT_KEYS
            for offset, entry in enumerate(entries):
                doc = entry.fields()
                doc["seq"] = first + offset
                doc["time"] = stamp
                payload = dumps(doc, option=option)
                if len(payload) > MAX_ENTRY_BYTES:
                    raise AuditError("an audit entry is too large", code="audit_entry_too_large")
                buf += frame(payload)
                leaves.append(leaf_hash(payload))
            self._write_all(bytes(buf))
            self.size += len(entries)
            self.last_time = when
            self._tree.extend(leaves)
            self._tree.append_to_files(self.layout.tree, self._held)
            return first

    def _write_all(self, data: bytes) -> None:
        before = self._segment_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError:
            # Leave no half batch behind: the next batch must start on a record boundary.
            os.ftruncate(self._fd, before)
            raise
        self._segment_size = before + len(data)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        path = self._create_segment(self.size)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._segment_size = 0

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint:
        """Sign the current tree head, unless the latest checkpoint already covers it."""
        with self.lock:
            root = self._tree.root(self.size)
            made = Checkpoint(self.origin, self.size, root)
            if self.size != self.checkpoint_size:
                self.checkpoints.save(self.size, sign_checkpoint(made, self.signer))
                self.checkpoint_size = self.size
            return made

    @property
    def tree(self) -> HashTree:
        return self._tree

    def replace_tree(self, tree: HashTree) -> None:
        """After a retention cut: the cache rebased on the cut, written whole."""
        tree.save(self.layout.tree)
        self._tree = tree
        self._held = tree.held_bytes()

    def close(self) -> None:
        with self.lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # closing releases the flock
                self._lock_fd = -1
