"""Verification: replay the whole log against its signed checkpoints, and prove one entry.

`verify_log` is the monitor of standards.md §4.5: with a pinned key (LOG-20) it checks every
checkpoint's signature and origin, recomputes the Merkle root from every entry and compares it
at each checkpoint (LOG-24), checks consecutive checkpoints with RFC 9162 consistency proofs
(LOG-21), and raises a fork or rollback alarm (LOG-22) when the entries or a checkpoint the
caller trusts from elsewhere disagree. It never trusts the hash tree cache.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from zerogate.audit._checkpoint import Checkpoint, CheckpointStore, open_checkpoint
from zerogate.audit._entry import EventKind, Outcome, parse_time
from zerogate.audit._errors import AuditError, ProofError
from zerogate.audit._layout import Layout, read_cut
from zerogate.audit._merkle import leaf_hash, verify_consistency
from zerogate.audit._note import NoteVerifier
from zerogate.audit._segments import scan, segment_paths
from zerogate.audit._tree import HashTree

_KINDS = frozenset(k.value for k in EventKind)
_OUTCOMES = frozenset(o.value for o in Outcome)
_FIELDS = frozenset(
    {
        "kind",
        "decision",
        "decision_id",
        "trace_id",
        "principal",
        "resource",
        "action",
        "policies",
        "reason",
        "policy_revision",
        "posture_age_s",
        "latency_us",
        "attrs",
        "seq",
        "time",
    }
)


@dataclass(frozen=True, slots=True)
class VerifiedLog:
    """A log that verified: entries [start, size), the latest checkpoint, what it left open."""

    origin: str
    start: int  # the first entry kept (after retention cuts)
    size: int
    checkpoints: int
    latest: Checkpoint | None
    unsigned: int  # entries after the latest checkpoint: not yet covered by a signature
    torn_tail_bytes: int  # an unfinished last record beyond every checkpoint (a crash)

    def as_dict(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "origin": self.origin,
            "start": self.start,
            "size": self.size,
            "checkpoints": self.checkpoints,
            "checkpoint_size": latest.size if latest else None,
            "root": base64.b64encode(latest.root).decode() if latest else None,
            "unsigned": self.unsigned,
            "torn_tail_bytes": self.torn_tail_bytes,
        }


def _verifiers(key: NoteVerifier | Sequence[NoteVerifier]) -> list[NoteVerifier]:
    return [key] if isinstance(key, NoteVerifier) else list(key)


def load_checkpoints(
    directory: Path, verifiers: Sequence[NoteVerifier], origin: str
) -> list[Checkpoint]:
    """Every stored checkpoint, each verified with the pinned keys (LOG-20), by size."""
    found = []
    for size, path in CheckpointStore(Layout(directory).checkpoints).paths():
        try:
            checkpoint = open_checkpoint(path.read_bytes(), verifiers, origin=origin)
        except AuditError as exc:
            raise AuditError(
                f"checkpoint {path.name}: {exc.message}", code=exc.code, loc=str(path)
            ) from exc
        if checkpoint.size != size:
            raise AuditError(
                f"{path.name} holds a checkpoint of size {checkpoint.size}",
                code="audit_checkpoint_invalid",
                loc=str(path),
            )
        found.append(checkpoint)
    return found


def verify_log(
    directory: Path,
    key: NoteVerifier | Sequence[NoteVerifier],
    *,
    origin: str | None = None,
    trusted: Checkpoint | None = None,
) -> VerifiedLog:
    """Verify the log in `directory` with the pinned key(s); raise AuditError on any failure.

    `origin` defaults to the key's name. `trusted` is a checkpoint held outside the log host
    (LOG-25): the log must still contain it and extend it.
    """
    verifiers = _verifiers(key)
    origin = origin or verifiers[0].name
    layout = Layout(directory)
    if not layout.segments.is_dir():
        raise AuditError(f"no audit log in {directory}", code="audit_not_found", loc=str(directory))
    checkpoints = load_checkpoints(directory, verifiers, origin)
    cut = read_cut(layout.cut, verifiers, origin=origin)
    tree = HashTree(cut.frontier if cut is not None else None)
    start = tree.size
    checkpoints = [c for c in checkpoints if c.size >= start]
    torn, torn_at, problem = _replay(layout, tree, checkpoints)
    size = tree.size
    for checkpoint in checkpoints:
        if checkpoint.size > size and torn:
            raise AuditError(
                f"entry {size}: {problem}, and checkpoint {checkpoint.size} covers it",
                code="audit_entry_corrupt",
                loc=torn_at,
            )
        if checkpoint.size > size:
            raise AuditError(
                f"checkpoint {checkpoint.size} covers more entries than the log holds ({size}): "
                "entries were removed or truncated",
                code="audit_rollback",
                loc=str(layout.checkpoints),
            )
    for older, newer in itertools.pairwise(checkpoints):
        _consistent(tree, older, newer)
    latest = checkpoints[-1] if checkpoints else None
    if trusted is not None:
        _extends_trusted(tree, trusted, latest, start)
    return VerifiedLog(
        origin=origin,
        start=start,
        size=size,
        checkpoints=len(checkpoints),
        latest=latest,
        unsigned=size - (latest.size if latest else start),
        torn_tail_bytes=torn,
    )


def _replay(
    layout: Layout, tree: HashTree, checkpoints: Sequence[Checkpoint]
) -> tuple[int, str, str]:
    """Hash every entry into `tree`, checking framing, order and shape; check each checkpoint
    root as the replay passes its size. Returns a torn tail's bytes, place and problem."""
    due = {c.size: c for c in checkpoints}
    if tree.size in due:
        _root_matches(tree, due[tree.size])
    segments = segment_paths(layout.segments)
    last_time = ""
    for index, (first, path) in enumerate(segments):
        where = str(path)
        if first != tree.size:
            raise AuditError(
                f"{path.name} starts at entry {first}, expected {tree.size}: entries are missing "
                "or repeated",
                code="audit_sequence_broken",
                loc=where,
            )
        scanned = scan(path.read_bytes())
        for offset, payload in zip(scanned.offsets, scanned.records, strict=True):
            last_time = _check_record(payload, tree.size, last_time, f"{where}@{offset}")
            tree.append(leaf_hash(payload))
            if tree.size in due:
                _root_matches(tree, due[tree.size])
        if scanned.problem:
            if index != len(segments) - 1:
                raise AuditError(
                    f"{path.name}: {scanned.problem} at byte {scanned.end}",
                    code="audit_entry_corrupt",
                    loc=f"{where}@{scanned.end}",
                )
            return scanned.size - scanned.end, f"{where}@{scanned.end}", scanned.problem
    return 0, "", ""


def _check_record(payload: bytes, seq: int, last_time: str, where: str) -> str:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise AuditError(f"entry {seq} is not JSON", code="audit_entry_invalid", loc=where) from exc
    if not isinstance(doc, dict) or doc.get("seq") != seq:
        found = doc.get("seq") if isinstance(doc, dict) else None
        raise AuditError(
            f"entry {seq} says it is entry {found}: entries were moved, removed or inserted",
            code="audit_sequence_broken",
            loc=where,
        )
    when = doc.get("time")
    if not isinstance(when, str) or when < last_time:
        raise AuditError(
            f"entry {seq}'s time goes backwards", code="audit_entry_invalid", loc=where
        )
    if when != last_time:
        try:
            parse_time(when)
        except ValueError as exc:
            raise AuditError(
                f"entry {seq} has no valid time", code="audit_entry_invalid", loc=where
            ) from exc
    if (
        doc.get("kind") not in _KINDS
        or doc.get("decision") not in _OUTCOMES
        or not _FIELDS.issuperset(doc)
    ):
        raise AuditError(
            f"entry {seq} is not a valid audit entry", code="audit_entry_invalid", loc=where
        )
    return when


def _root_matches(tree: HashTree, checkpoint: Checkpoint) -> None:
    if tree.root(checkpoint.size) != checkpoint.root:
        raise AuditError(
            f"the entries do not hash to checkpoint {checkpoint.size}'s root: "
            "the log was altered, or the checkpoint belongs to another history (fork)",
            code="audit_root_mismatch",
        )


def _consistent(tree: HashTree, older: Checkpoint, newer: Checkpoint) -> None:
    """LOG-21: the newer checkpoint extends the older one (an RFC 9162 consistency proof)."""
    try:
        verify_consistency(
            first=older.size,
            second=newer.size,
            first_root=older.root,
            second_root=newer.root,
            proof=tree.consistency_proof(older.size, newer.size),
        )
    except ProofError as exc:
        raise AuditError(
            f"checkpoints {older.size} and {newer.size} are not consistent: {exc.message}",
            code="audit_fork",
        ) from exc


def _extends_trusted(
    tree: HashTree, trusted: Checkpoint, latest: Checkpoint | None, start: int
) -> None:
    """LOG-21/22 against a checkpoint seen before: shrinking or a different root is an alarm."""
    newest = latest.size if latest else tree.size
    if trusted.size > newest:
        raise AuditError(
            f"the log's latest checkpoint ({newest}) is older than the trusted one "
            f"({trusted.size}): rollback",
            code="audit_rollback",
        )
    if trusted.size < start:
        raise AuditError(
            f"the trusted checkpoint ({trusted.size}) is before the retention cut ({start})",
            code="audit_trusted_before_cut",
        )
    if tree.root(trusted.size) != trusted.root:
        raise AuditError(
            f"the log has a different history at size {trusted.size} than the trusted "
            "checkpoint: fork",
            code="audit_fork",
        )
    if latest is not None:
        _consistent(tree, trusted, latest)
