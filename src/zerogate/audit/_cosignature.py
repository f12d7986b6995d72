"""Witness cosignatures (c2sp.org/tlog-cosignature, the Ed25519 `cosignature/v1` type).

A cosignature is an ordinary signed-note line, `— <name> base64(key ID || signature)`, whose
signature is a `timestamped_signature`: an 8-byte big-endian POSIX timestamp (at most 2^63 - 1)
followed by a 64-byte Ed25519 signature. The Ed25519 key ID is
`SHA-256(<name> || "\\n" || 0x04 || 32-byte public key)[:4]`, and the vkey form is
`<name>+<8 hex key ID>+base64(0x04 || public key)`. What is signed is two newline-terminated
lines, `cosignature/v1` and `time <timestamp in decimal, no leading zeroes>`, followed by the
whole note body of the checkpoint (its final newline included, no signature lines).

A v1 cosignature says: as of that time, the largest consistent tree the witness has seen for
the origin has this root. Because the Ed25519 message does not name the cosigner, one key must
never serve two cosigners. Verifiers here are `NoteVerifier`s, so `open_note` checks witness
and log signatures in one pass and ignores every key it is not given (LOG-11).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from zerogate.audit._checkpoint import Checkpoint
from zerogate.audit._errors import AuditError
from zerogate.audit._note import (
    NoteVerifier,
    _b64,
    _bad_key,
    _bad_note,
    _check_name,
    _check_text,
    _signature_parts,
    open_note,
)

COSIGNATURE_V1 = b"\x04"  # the signature type byte of Ed25519 cosignature/v1 keys
_TIMESTAMP = struct.Struct(">Q")
_SIGNATURE_BYTES = _TIMESTAMP.size + 64
_MAX_TIMESTAMP = (1 << 63) - 1
_DASH = "\u2014 "


def cosignature_key_id(name: str, public: bytes) -> int:
    """SHA-256(name || 0x0A || 0x04 || public key)[:4] as a big-endian integer."""
    digest = hashlib.sha256(name.encode() + b"\n" + COSIGNATURE_V1 + public).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosigner signs for the checkpoint note body `body` at `timestamp`."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


@dataclass(frozen=True, slots=True)
class CosignatureVerifier(NoteVerifier):
    """A witness's public key: checks its cosignatures (a `NoteVerifier` for `open_note`)."""

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse `<name>+<8 hex key id>+<base64(0x04 || 32-byte public key)>`."""
        name, _, rest = vkey.strip().partition("+")
        hex_id, _, material = rest.partition("+")
        _check_name(name)
        raw = _b64(material, "witness key")
        if len(hex_id) != 8 or len(raw) != 33 or raw[:1] != COSIGNATURE_V1:
            raise _bad_key(
                "not a witness key: NAME+KEYID+BASE64 of type 0x04 (Ed25519 cosignature/v1)"
            )
        key_id = cosignature_key_id(name, raw[1:])
        if f"{key_id:08x}" != hex_id.lower():
            raise _bad_key("the witness key's id does not match its name and key")
        return cls(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))

    @property
    def vkey(self) -> str:
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        material = base64.b64encode(COSIGNATURE_V1 + raw).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Check a `timestamped_signature` over the note body `text`."""
        if len(signature) != _SIGNATURE_BYTES:
            return False
        (timestamp,) = _TIMESTAMP.unpack_from(signature)
        if timestamp > _MAX_TIMESTAMP:
            return False
        try:
            body = text.decode("utf-8")
            self.public_key.verify(signature[_TIMESTAMP.size :], cosigned_message(body, timestamp))
        except (InvalidSignature, UnicodeDecodeError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class CosignatureSigner:
    """A witness's private key (its `skey` form is secret: keep the file at mode 0600)."""

    name: str
    key_id: int
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        _check_name(name)
        private = Ed25519PrivateKey.generate()
        return cls(name, cosignature_key_id(name, _raw_public(private)), private)

    @classmethod
    def from_skey(cls, skey: str) -> CosignatureSigner:
        """Parse `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x04 || 32-byte seed)>`."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise _bad_key("not a witness key file (PRIVATE+KEY+name+keyid+base64)")
        name, hex_id, material = parts[2:]
        _check_name(name)
        raw = _b64(material, "witness key")
        if len(raw) != 33 or raw[:1] != COSIGNATURE_V1:
            raise _bad_key("not an Ed25519 cosignature/v1 key (type 0x04)")
        private = Ed25519PrivateKey.from_private_bytes(raw[1:])
        key_id = cosignature_key_id(name, _raw_public(private))
        if f"{key_id:08x}" != hex_id.lower():
            raise _bad_key("the witness key's id does not match its name and key")
        return cls(name, key_id, private)

    @property
    def skey(self) -> str:
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        material = base64.b64encode(COSIGNATURE_V1 + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{material}"

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key_id, self.private_key.public_key())

    def cosign(self, body: str, *, timestamp: int) -> str:
        """The cosignature line over the checkpoint note body `body`, newline-terminated."""
        _check_text(body)
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise AuditError("a cosignature's time is 0 to 2^63-1", code="audit_invalid")
        signature = self.private_key.sign(cosigned_message(body, timestamp))
        blob = struct.pack(">I", self.key_id) + _TIMESTAMP.pack(timestamp) + signature
        return f"{_DASH}{self.name} {base64.b64encode(blob).decode()}\n"


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def cosignature_time(line: str) -> int:
    """The timestamp a cosignature line carries (not checked: verify the line first)."""
    _name, blob = _signature_parts(line.rstrip("\n"))
    raw = _b64(blob, "signature", code="audit_checkpoint_invalid")
    if len(raw) != 4 + _SIGNATURE_BYTES:
        raise _bad_note("not a cosignature/v1 signature")
    return int(_TIMESTAMP.unpack_from(raw, 4)[0])


def signature_lines(note: str) -> tuple[str, str]:
    """Split a signed note into its text (ending in a newline) and its signature block."""
    split = note.rfind("\n\n")
    if split < 0:
        raise _bad_note("a note has no blank line before its signatures")
    return note[: split + 1], note[split + 2 :]


def lines_by(note: str, verifiers: Sequence[NoteVerifier]) -> list[str]:
    """The signature lines of `note` whose name and key ID belong to one of `verifiers`
    (unchecked: use after `open_note`), each newline-terminated."""
    keys = {(v.name, v.key_id) for v in verifiers}
    found = []
    for line in signature_lines(note)[1].splitlines():
        name, blob = _signature_parts(line)
        raw = _b64(blob, "signature", code="audit_checkpoint_invalid")
        if len(raw) >= 4 and (name, int(struct.unpack(">I", raw[:4])[0])) in keys:
            found.append(line + "\n")
    return found


@dataclass(frozen=True, slots=True)
class CosignedCheckpoint:
    """A checkpoint the log signed, with the pinned witnesses that cosigned it (and when)."""

    checkpoint: Checkpoint
    note: str
    cosigners: tuple[str, ...]
    times: tuple[int, ...]  # each cosigner's timestamp, in the same order


def open_cosigned(
    note: str | bytes,
    *,
    log: NoteVerifier | Sequence[NoteVerifier],
    witnesses: Sequence[CosignatureVerifier],
    origin: str,
) -> CosignedCheckpoint:
    """Verify a checkpoint's log signature (LOG-20) and every pinned witness's cosignature on it.

    Unknown keys are ignored; a pinned key whose signature fails rejects the note
    (`audit_signature_invalid`). The result names the pinned witnesses that cosigned; a
    witness that did not is simply absent (the caller decides what quorum it needs).
    """
    logs = [log] if isinstance(log, NoteVerifier) else list(log)
    log_names = {v.name for v in logs}
    if any(w.name in log_names for w in witnesses):
        raise _bad_key("a witness must not share its name with the log's key")
    text = note.decode("utf-8", "replace") if isinstance(note, bytes) else note
    opened = open_note(note, [*logs, *witnesses])
    if not log_names.intersection(opened.signers):
        raise AuditError(
            "the checkpoint carries no valid signature by the log's key",
            code="audit_signature_invalid",
            status=422,
        )
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != origin:
        raise AuditError(
            f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}",
            code="audit_origin_mismatch",
            status=422,
        )
    cosigners: list[str] = []
    times: list[int] = []
    for witness in witnesses:
        lines = lines_by(text, [witness])
        if witness.name in opened.signers and lines:
            cosigners.append(witness.name)
            times.append(cosignature_time(lines[0]))
    return CosignedCheckpoint(checkpoint, text, tuple(cosigners), tuple(times))
