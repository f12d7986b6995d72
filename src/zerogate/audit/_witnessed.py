"""Cosigned checkpoints beside the log (`witnessed/`), and finding the latest one a verifier
can trust because independent witnesses cosigned it (LOG-25).

`witnessed/<size>.note` is the log's signed checkpoint of that size with every witness
cosignature gathered for it appended. The files live on the log host, so they prove nothing by
being there: a verifier checks the log's signature and each pinned witness's cosignature, then
requires the log to contain and extend that checkpoint. A host that rewrote its history cannot
make a witness cosign the rewrite, and the old cosigned checkpoint then contradicts the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zerogate.audit._checkpoint import CheckpointStore, write_durably
from zerogate.audit._cosignature import (
    CosignatureVerifier,
    CosignedCheckpoint,
    open_cosigned,
    signature_lines,
)
from zerogate.audit._errors import AuditError
from zerogate.audit._note import NoteVerifier

WITNESSED_DIR = "witnessed"


class WitnessedStore(CheckpointStore):
    """The cosigned checkpoints of one audit directory, one file per size, written durably
    (the log's own checkpoint files, with the witnesses' signature lines added)."""

    def __init__(self, audit_dir: Path) -> None:
        super().__init__(audit_dir / WITNESSED_DIR)

    def add(self, size: int, note: str, lines: Sequence[str]) -> Path:
        """Append cosignature `lines` to the stored checkpoint of `size` (`note` if none yet)."""
        path = self.path(size)
        base = path.read_text(encoding="utf-8") if path.is_file() else note
        text, block = signature_lines(base)
        have = block.splitlines(keepends=True)
        merged = have + [line for line in lines if line not in have]
        self.directory.mkdir(parents=True, exist_ok=True)
        write_durably(path, (text + "\n" + "".join(merged)).encode())
        return path


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """The newest checkpoint every pinned witness cosigned, and how many files were read."""

    cosigned: CosignedCheckpoint
    files: int


def latest_witnessed(
    audit_dir: Path,
    log_key: NoteVerifier | Sequence[NoteVerifier],
    witnesses: Sequence[CosignatureVerifier],
    *,
    origin: str,
    quorum: int | None = None,
) -> WitnessedCheckpoint | None:
    """The newest stored checkpoint cosigned by at least `quorum` (default: all) of `witnesses`.

    Every file read must verify: a bad log signature or a failing cosignature by a pinned
    witness is tampering and raises AuditError (fail closed), it is never skipped.
    """
    need = len(witnesses) if quorum is None else quorum
    paths = WitnessedStore(audit_dir).paths()
    for read, (size, path) in enumerate(reversed(paths), start=1):
        try:
            cosigned = open_cosigned(
                path.read_bytes(), log=log_key, witnesses=witnesses, origin=origin
            )
        except AuditError as exc:
            raise AuditError(
                f"witnessed checkpoint {path.name}: {exc.message}", code=exc.code, loc=str(path)
            ) from exc
        if cosigned.checkpoint.size != size:
            raise AuditError(
                f"{path.name} holds a checkpoint of size {cosigned.checkpoint.size}",
                code="audit_checkpoint_invalid",
                loc=str(path),
            )
        if len(cosigned.cosigners) >= need:
            return WitnessedCheckpoint(cosigned, read)
    return None
