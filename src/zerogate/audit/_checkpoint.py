"""Checkpoints (c2sp.org/tlog-checkpoint): origin, tree size and root, as a signed note on disk.

The body is three newline-terminated lines — the log's origin, the size in decimal without
leading zeros, the base64 root (LOG-10) — signed as a C2SP note with the log's Ed25519 key.
Every checkpoint is kept under `checkpoints/` (named for its size): consecutive ones must be
consistent, and a kept pair that is not is the evidence of a fork (LOG-22).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zerogate.audit._errors import AuditError
from zerogate.audit._merkle import HASH_SIZE
from zerogate.audit._note import NoteSigner, NoteVerifier, open_note, sign_note

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
KEY_FILE = "checkpoint.key"
VKEY_FILE = "checkpoint.vkey"
SUFFIX = ".note"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the log `origin` had `size` entries with Merkle root `root`."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise _invalid("a checkpoint body is origin, size and root, one per line")
        origin, size, root_b64 = lines[:3]
        if not origin or not _SIZE.fullmatch(size):
            raise _invalid("a checkpoint's size is decimal without leading zeros")
        try:
            root = base64.b64decode(root_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _invalid("a checkpoint's root is not base64") from exc
        if len(root) != HASH_SIZE:
            raise _invalid("a checkpoint's root is a 32-byte SHA-256 hash")
        return cls(origin, int(size), root)


def _invalid(msg: str) -> AuditError:
    return AuditError(msg, code="audit_checkpoint_invalid", status=422)


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    return sign_note(checkpoint.body(), [signer])


def open_checkpoint(
    note: str | bytes, verifiers: Sequence[NoteVerifier], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint with pinned keys (LOG-20); raise AuditError if it fails."""
    opened = open_note(note, verifiers)
    checkpoint = Checkpoint.parse(opened.text)
    expected = origin if origin is not None else None
    if expected is not None and checkpoint.origin != expected:
        raise AuditError(
            f"the checkpoint is for log {checkpoint.origin!r}, not {expected!r}",
            code="audit_origin_mismatch",
            status=422,
        )
    return checkpoint


class CheckpointStore:
    """The signed checkpoints of one log, one file per size, written durably."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def paths(self) -> list[tuple[int, Path]]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            if path.stem.isdigit() and len(path.stem) == 20:
                found.append((int(path.stem), path))
        return sorted(found)

    def latest(self) -> tuple[int, str] | None:
        paths = self.paths()
        if not paths:
            return None
        size, path = paths[-1]
        return size, path.read_text(encoding="utf-8")

    def path(self, size: int) -> Path:
        return self.directory / f"{size:020d}{SUFFIX}"

    def save(self, size: int, note: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(size)
        write_durably(path, note.encode())
        return path

    def remove_below(self, size: int) -> None:
        for found, path in self.paths():
            if found < size:
                path.unlink()


def write_durably(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write-then-rename with fsync of the file and its directory: all or nothing after a crash."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_or_create_signer(directory: Path, origin: str) -> NoteSigner:
    """The log's signing key from `checkpoint.key` (mode 0600), created on first use.

    The public `checkpoint.vkey` is written beside it for convenience; a verifier should pin the
    key out of band (LOG-20), not read it from the log's own directory.
    """
    path = directory / KEY_FILE
    if path.exists():
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AuditError(
                f"{path} is readable by others: chmod 600 it",
                code="audit_key_insecure",
                loc=str(path),
            )
        signer = NoteSigner.from_skey(path.read_text(encoding="utf-8"))
        if signer.name != origin:
            raise AuditError(
                f"{path} signs as {signer.name!r}, but the log's origin is {origin!r}",
                code="audit_origin_mismatch",
                loc=str(path),
            )
        return signer
    directory.mkdir(parents=True, exist_ok=True)
    signer = NoteSigner.generate(origin)
    write_durably(path, (signer.skey + "\n").encode(), mode=0o600)
    os.chmod(path, 0o600)
    write_durably(directory / VKEY_FILE, (signer.verifier().vkey + "\n").encode())
    return signer
