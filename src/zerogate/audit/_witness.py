"""A transparency-log witness (c2sp.org/tlog-witness): the `add-checkpoint` rules, free of HTTP.

The request body is an `old <size>` line, zero to 63 base64 consistency-proof lines, an empty
line, then the signed checkpoint. The witness cosigns only if, in this order:

- the checkpoint's origin is a log it knows (else 404) and a pinned key of that log signed it
  (else 403; signatures by other keys are ignored);
- `old` is not above the checkpoint's size (else 400);
- `old` is the size of the latest checkpoint it cosigned for that origin, 0 if none (else 409,
  the body being that size and a newline, `Content-Type: text/x.tlog.size`);
- a size-0 checkpoint has the empty tree's root, and `old` 0 comes with an empty proof (else 422);
- at equal sizes the roots are identical (else 409: two signed views of one size are a fork);
- otherwise the RFC 6962/9162 consistency proof leads from its stored root to the new one
  (else 422).

Then it stores the new checkpoint durably and answers with its cosignature line (200). The check
and the write happen under one lock, so two racing requests cannot roll the stored size back.
A refused checkpoint that the log did sign but that contradicts the stored one is kept under
`evidence/` as possible proof of the log's misbehaviour (LOG-22): it is never cosigned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import stat
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zerogate.audit._checkpoint import Checkpoint, write_durably
from zerogate.audit._cosignature import CosignatureSigner, lines_by, signature_lines
from zerogate.audit._errors import AuditError, ProofError
from zerogate.audit._merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from zerogate.audit._note import NoteVerifier, open_note
from zerogate.clock import Clock

log = logging.getLogger("zerogate.audit.witness")

SIZE_MEDIA_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = 256 * 1024
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class WitnessError(AuditError):
    """A refused `add-checkpoint`; `status` is the HTTP status the spec prescribes.

    For a 409 about sizes, `size` is the witness's latest cosigned size (the answer's body).
    """

    def __init__(self, message: str, *, code: str, status: int, size: int | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.size = size


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """One `add-checkpoint` request: the size the witness is believed to hold, the consistency
    proof from there, and the signed checkpoint note."""

    old: int
    proof: tuple[bytes, ...]
    note: str

    def encode(self) -> bytes:
        lines = [f"old {self.old}\n"]
        lines += [base64.b64encode(h).decode() + "\n" for h in self.proof]
        return ("".join(lines) + "\n" + self.note).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse a request body; WitnessError (400) when it is not one."""
        if len(body) > MAX_REQUEST_BYTES:
            raise _bad_request("the request is too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad_request("the request is not UTF-8 text") from exc
        head, sep, rest = text.partition("\n")
        word, _, size = head.partition(" ")
        if not sep or word != "old" or not _SIZE.fullmatch(size):
            raise _bad_request("the request starts with 'old <size>' and a newline")
        proof: list[bytes] = []
        while True:
            line, sep, rest = rest.partition("\n")
            if not sep:
                raise _bad_request("the proof lines end with an empty line")
            if not line:
                break
            if len(proof) == MAX_PROOF_LINES:
                raise _bad_request(f"more than {MAX_PROOF_LINES} consistency proof lines")
            try:
                node = base64.b64decode(line, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise _bad_request("a proof line is not base64") from exc
            if len(node) != HASH_SIZE:
                raise _bad_request("a proof line is a 32-byte hash")
            proof.append(node)
        if not rest:
            raise _bad_request("the request holds no checkpoint")
        return cls(int(size), tuple(proof), rest)


def _bad_request(msg: str) -> WitnessError:
    return WitnessError(msg, code="witness_bad_request", status=400)


class WitnessState:
    """What the witness remembers, per origin, in files under one directory.

    `<dir>/<sha256(origin) hex>/latest.note` is the latest cosigned checkpoint (the log's
    signatures and the witness's cosignature); `evidence/` beside it holds refused, log-signed
    requests that contradicted it. Files are replaced atomically and fsync'd.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _origin_dir(self, origin: str) -> Path:
        return self.directory / hashlib.sha256(origin.encode()).hexdigest()

    def latest(self, origin: str) -> str | None:
        path = self._origin_dir(origin) / "latest.note"
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def save(self, origin: str, note: str) -> None:
        where = self._origin_dir(origin)
        where.mkdir(parents=True, exist_ok=True)
        write_durably(where / "latest.note", note.encode(), mode=0o600)

    def keep_evidence(self, origin: str, name: str, text: str) -> Path:
        forks = self._origin_dir(origin) / "evidence"
        forks.mkdir(parents=True, exist_ok=True)
        path = forks / name
        write_durably(path, text.encode(), mode=0o600)
        return path

    def evidence(self, origin: str) -> list[Path]:
        forks = self._origin_dir(origin) / "evidence"
        return sorted(forks.iterdir()) if forks.is_dir() else []


class Witness:
    """Cosigns checkpoints of the logs it knows, never two views that contradict each other."""

    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Mapping[str, Sequence[NoteVerifier]],
        state: WitnessState,
        *,
        clock: Clock,
    ) -> None:
        if any(v.name == signer.name for keys in logs.values() for v in keys):
            raise AuditError(
                "the witness must not share its name with a log key", code="witness_config"
            )
        self.signer = signer
        self.logs = {origin: list(keys) for origin, keys in logs.items()}
        self.state = state
        self._clock = clock
        self._lock = threading.Lock()

    def check_state(self) -> dict[str, int]:
        """Read every known log's stored checkpoint (at start-up: a damaged state must stop the
        witness, not reset it to zero). Returns the stored size per origin."""
        return {origin: self._stored(origin)[0].size for origin in self.logs}

    def _stored(self, origin: str) -> tuple[Checkpoint, str]:
        note = self.state.latest(origin)
        if note is None:
            return Checkpoint(origin, 0, EMPTY_ROOT), ""
        try:
            opened = open_note(note, [*self.logs[origin], self.signer.verifier()])
            stored = Checkpoint.parse(opened.text)
        except AuditError as exc:
            raise AuditError(
                f"the witness state for {origin!r} does not verify: {exc.message}",
                code="witness_state_invalid",
            ) from exc
        if stored.origin != origin or self.signer.name not in opened.signers:
            raise AuditError(
                f"the witness state for {origin!r} is not a checkpoint this witness cosigned",
                code="witness_state_invalid",
            )
        return stored, note

    def add_checkpoint(self, body: bytes) -> str:
        """Apply one `add-checkpoint` request; the cosignature line(s), or WitnessError."""
        request = AddCheckpoint.parse(body)
        text, checkpoint = self._open(request.note)
        if request.old > checkpoint.size:
            raise WitnessError(
                f"old size {request.old} is above the checkpoint's size {checkpoint.size}",
                code="witness_bad_request",
                status=400,
            )
        with self._lock:  # the check and the write are one step (tlog-witness: the race)
            stored, stored_note = self._stored(checkpoint.origin)
            if request.old != stored.size:
                raise WitnessError(
                    f"the latest checkpoint cosigned for this log has size {stored.size}",
                    code="witness_size_conflict",
                    status=409,
                    size=stored.size,
                )
            self._check_consistency(request, checkpoint, stored, stored_note)
            timestamp = int(self._clock.now().timestamp())
            line = self.signer.cosign(text, timestamp=timestamp)
            kept = text + "\n" + "".join(lines_by(request.note, self.logs[checkpoint.origin]))
            self.state.save(checkpoint.origin, kept + line)
        log.info(
            "witness: cosigned",
            extra={"origin": checkpoint.origin, "size": checkpoint.size, "old": request.old},
        )
        return line

    def _open(self, note: str) -> tuple[str, Checkpoint]:
        """The note's text and checkpoint, signed by a pinned key of its origin (404/403)."""
        try:
            text, _sigs = signature_lines(note)
            origin = text.split("\n", 1)[0]
        except AuditError as exc:
            raise _bad_request(exc.message) from exc
        keys = self.logs.get(origin)
        if keys is None:
            raise WitnessError(f"unknown log {origin!r}", code="witness_unknown_log", status=404)
        try:
            opened = open_note(note, keys)
            checkpoint = Checkpoint.parse(opened.text)
        except AuditError as exc:
            if exc.code == "audit_signature_invalid":
                raise WitnessError(
                    "no valid signature by the log's pinned key",
                    code="witness_signature_invalid",
                    status=403,
                ) from exc
            raise _bad_request(exc.message) from exc
        return opened.text, checkpoint

    def _check_consistency(
        self,
        request: AddCheckpoint,
        checkpoint: Checkpoint,
        stored: Checkpoint,
        stored_note: str,
    ) -> None:
        if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
            raise _unprocessable("a checkpoint of size 0 has the empty tree's root")
        if request.old == 0 and request.proof:
            raise _unprocessable("the consistency proof from size 0 is empty")
        if checkpoint.size == stored.size and checkpoint.root != stored.root:
            self._keep(checkpoint, stored_note, request, "fork", "same size, different root")
            raise WitnessError(
                f"a different checkpoint of size {stored.size} was cosigned: refusing a fork",
                code="witness_fork",
                status=409,
            )
        try:
            verify_consistency(
                first=stored.size,
                second=checkpoint.size,
                first_root=stored.root,
                second_root=checkpoint.root,
                proof=request.proof,
            )
        except ProofError as exc:
            if stored_note:  # a log bug, or a history that does not extend the cosigned one
                self._keep(checkpoint, stored_note, request, "unproven", exc.message)
            raise _unprocessable(f"the consistency proof does not verify: {exc.message}") from exc

    def _keep(
        self,
        checkpoint: Checkpoint,
        stored_note: str,
        request: AddCheckpoint,
        kind: str,
        why: str,
    ) -> None:
        """Keep a log-signed checkpoint refused against the stored one (tlog-witness: it "might
        be proof of log misbehavior"); it is never cosigned. `kind`: `fork` (same size, other
        root) or `unproven` (no valid consistency proof from the stored one)."""
        when = self._clock.now().strftime("%Y%m%dT%H%M%S%fZ")
        digest = hashlib.sha256(request.encode()).hexdigest()[:12]  # one file per request
        name = f"{when}-{checkpoint.size}-{kind}-{digest}.txt"
        text = (
            f"# refused: {why}\n# stored checkpoint:\n{stored_note}\n"
            f"# submitted add-checkpoint request:\n{request.encode().decode()}"
        )
        path = self.state.keep_evidence(checkpoint.origin, name, text)
        log.error(
            "witness: refused a log-signed checkpoint; kept as evidence (%s)",
            kind,
            extra={
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "reason": why,
                "evidence": str(path),
            },
        )


def _unprocessable(msg: str) -> WitnessError:
    return WitnessError(msg, code="witness_proof_invalid", status=422)


def create_witness_key(path: Path, name: str) -> CosignatureSigner:
    """A new witness key in `path` (mode 0600, C2SP skey form); never overwrites one."""
    signer = CosignatureSigner.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise AuditError(
            f"{path} exists: a witness key is never replaced (its cosignatures would no "
            "longer verify)",
            code="witness_key_exists",
            loc=str(path),
        ) from exc
    try:
        os.write(fd, (signer.skey + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    return signer


def load_witness_key(path: Path) -> CosignatureSigner:
    """The witness key in `path`; refused when others can read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise AuditError(
            f"no witness key at {path}: create one with `zerogate witness init`",
            code="witness_key_missing",
            loc=str(path),
        ) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditError(
            f"{path} is readable by others: chmod 600 it",
            code="audit_key_insecure",
            loc=str(path),
        )
    return CosignatureSigner.from_skey(path.read_text(encoding="utf-8"))
