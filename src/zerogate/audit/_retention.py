"""Retention by age and size: whole sealed segments are cut, with a signed checkpoint at the cut.

The cut keeps what the rest of the log needs to verify: a checkpoint of the size at the cut
(signed now, consistent with every earlier one by construction) and the frontier hashes of the
removed entries, in `cut.json`. A verifier checks the frontier against that signature, then
replays the kept entries on top of it. Checkpoints older than the cut are removed with the
entries they describe. The active segment is never cut.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from zerogate.audit._checkpoint import Checkpoint, sign_checkpoint, sync_directory
from zerogate.audit._entry import AuditRecord
from zerogate.audit._layout import write_cut
from zerogate.audit._segments import first_payload, segment_paths
from zerogate.audit._storage import Storage

log = logging.getLogger("zerogate.audit")


@dataclass(frozen=True, slots=True)
class RetentionCut:
    """What a cut removed: the log now starts at entry `start`."""

    start: int
    segments: int
    bytes: int


def apply_retention(
    storage: Storage, *, older_than: datetime | None = None, max_bytes: int | None = None
) -> RetentionCut | None:
    """Cut the oldest sealed segments whose entries are all older than `older_than`, and more
    while the log is over `max_bytes`; None when nothing is due."""
    with storage.lock:
        segments = segment_paths(storage.layout.segments)
        sizes = [path.stat().st_size for _first, path in segments]
        total = sum(sizes)
        cut = 0
        for index in range(len(segments) - 1):  # the last (active) segment always stays
            too_big = max_bytes is not None and total > max_bytes
            if not too_big and not _all_older(segments[index + 1][1], older_than):
                break
            total -= sizes[index]
            cut = index + 1
        if cut == 0:
            return None
        start = segments[cut][0]
        tree = storage.tree
        note = sign_checkpoint(Checkpoint(storage.origin, start, tree.root(start)), storage.signer)
        # The cut record goes first, durably: a crash after it only leaves segments that the
        # next open removes (Storage._finish_cut); a crash before it leaves the log as it was.
        write_cut(storage.layout.cut, note, tree.frontier(start))
        storage.checkpoints.save(start, note)
        removed = sum(sizes[:cut])
        for _first, path in segments[:cut]:
            path.unlink()
        sync_directory(storage.layout.segments)
        storage.checkpoints.remove_below(start)
        storage.replace_tree(tree.rebased(start))
    log.info("audit log: retention cut", extra={"start": start, "segments": cut, "bytes": removed})
    return RetentionCut(start, cut, removed)


def _all_older(following: Path, older_than: datetime | None) -> bool:
    """A segment's entries are all older than `older_than` when the next segment starts
    at or before it (times never decrease along the log)."""
    if older_than is None:
        return False
    payload = first_payload(following)
    return payload is not None and AuditRecord.from_bytes(payload).time <= older_than
