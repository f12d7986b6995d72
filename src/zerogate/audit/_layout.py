"""Where things live in an audit directory, and the retention cut record.

audit/
  LOCK                     one writer at a time (flock)
  segments/*.seg           the entries (the only source of truth besides the checkpoints)
  checkpoints/*.note       every signed checkpoint, named for its size
  tree/level-NN.bin        the hash tree cache (derived; rebuilt when stale)
  cut.json                 after a retention cut: the signed checkpoint at the cut and the
                           cut's frontier hashes, from which the kept entries still verify
  checkpoint.key           the Ed25519 signing key (0600), unless one is passed in
  checkpoint.vkey          its public verifier key (pin it elsewhere: LOG-20)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from zerogate.audit._checkpoint import Checkpoint, open_checkpoint, write_durably
from zerogate.audit._errors import AuditError
from zerogate.audit._merkle import CompactRange
from zerogate.audit._note import NoteVerifier


@dataclass(frozen=True, slots=True)
class Layout:
    root: Path

    @property
    def segments(self) -> Path:
        return self.root / "segments"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def tree(self) -> Path:
        return self.root / "tree"

    @property
    def cut(self) -> Path:
        return self.root / "cut.json"

    @property
    def lock(self) -> Path:
        return self.root / "LOCK"


@dataclass(frozen=True, slots=True)
class Cut:
    """The log's start after a retention cut: a signed checkpoint there and its frontier."""

    checkpoint: Checkpoint
    note: str
    frontier: CompactRange


def write_cut(path: Path, note: str, frontier: CompactRange) -> None:
    doc = {
        "size": frontier.size,
        "frontier": [base64.b64encode(h).decode() for h in frontier.nodes],
        "checkpoint": note,
    }
    write_durably(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def read_cut(
    path: Path, verifiers: Sequence[NoteVerifier], *, origin: str | None = None
) -> Cut | None:
    """The cut, checked: its checkpoint verifies with the pinned key and its frontier hashes
    give that checkpoint's root, so the kept entries are bound to the signed history."""
    if not path.exists():
        return None
    try:
        doc = orjson.loads(path.read_bytes())
        size = doc["size"]
        nodes = [base64.b64decode(h, validate=True) for h in doc["frontier"]]
        note = doc["checkpoint"]
        frontier = CompactRange(size, nodes)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise AuditError(
            f"{path} is not a retention cut record", code="audit_cut_invalid", loc=str(path)
        ) from exc
    checkpoint = open_checkpoint(note, verifiers, origin=origin)
    if checkpoint.size != size or frontier.root() != checkpoint.root:
        raise AuditError(
            f"{path}: the cut's hashes do not match its signed checkpoint",
            code="audit_cut_invalid",
            loc=str(path),
        )
    return Cut(checkpoint, note, frontier)
