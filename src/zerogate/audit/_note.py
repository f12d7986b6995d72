"""C2SP signed notes with Ed25519: keys in the `vkey`/`skey` text form, signing and opening.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
`— <key name> base64(4-byte key ID || signature)` (the dash is U+2014). The key ID is
SHA-256(name || 0x0A || 0x01 || public key)[:4] (c2sp.org/signed-note, LOG-11). Opening a note
ignores signatures by unknown keys, rejects it if a known key's signature fails, and rejects it
unless at least one known key's signature verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from zerogate.audit._errors import AuditError

_ED25519 = b"\x01"
_DASH = "\u2014 "
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20


def _bad_key(msg: str) -> AuditError:
    return AuditError(msg, code="audit_key_invalid", status=400)


def _bad_note(msg: str) -> AuditError:
    return AuditError(msg, code="audit_checkpoint_invalid", status=422)


def _key_id(name: str, public: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" or ord(c) < 0x20 for c in name):
        raise _bad_key("a key name is non-empty, without spaces or '+'")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A public key that checks note signatures; `vkey` is its shareable text form."""

    name: str
    key_id: int
    public_key: Ed25519PublicKey

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse `<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>`."""
        name, _, rest = vkey.strip().partition("+")
        hex_id, _, material = rest.partition("+")
        _check_name(name)
        raw = _b64(material, "verifier key")
        if len(hex_id) != 8 or len(raw) != 33 or raw[:1] != _ED25519:
            raise _bad_key("not an Ed25519 verifier key (name+keyid+base64)")
        key_id = _key_id(name, raw[1:])
        if f"{key_id:08x}" != hex_id.lower():
            raise _bad_key("the verifier key's id does not match its name and key")
        return cls(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))

    @property
    def vkey(self) -> str:
        material = base64.b64encode(_ED25519 + _raw_public(self.public_key)).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class NoteSigner:
    """A private key that signs notes; `skey` is its text form (keep it secret: file mode 0600)."""

    name: str
    key_id: int
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        _check_name(name)
        private = Ed25519PrivateKey.generate()
        return cls(name, _key_id(name, _raw_public(private.public_key())), private)

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        """Parse `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>`."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise _bad_key("not a signer key (PRIVATE+KEY+name+keyid+base64)")
        name, hex_id, material = parts[2:]
        _check_name(name)
        raw = _b64(material, "signer key")
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise _bad_key("not an Ed25519 signer key")
        private = Ed25519PrivateKey.from_private_bytes(raw[1:])
        key_id = _key_id(name, _raw_public(private.public_key()))
        if f"{key_id:08x}" != hex_id.lower():
            raise _bad_key("the signer key's id does not match its name and key")
        return cls(name, key_id, private)

    @property
    def skey(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{base64.b64encode(_ED25519 + seed).decode()}"

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key_id, self.private_key.public_key())

    def signature_line(self, text: str) -> str:
        sig = self.private_key.sign(text.encode())
        blob = base64.b64encode(struct.pack(">I", self.key_id) + sig).decode()
        return f"{_DASH}{self.name} {blob}\n"


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """The signed note: `text` (ending in a newline), a blank line, one line per signer."""
    _check_text(text)
    return text + "\n" + "".join(s.signature_line(text) for s in signers)


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note at least one known key signed; `signers` names those keys."""

    text: str
    signers: tuple[str, ...]


def open_note(message: str | bytes, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """Check a signed note against known keys; raise AuditError unless one of them signed it."""
    data = message.encode() if isinstance(message, str) else message
    if len(data) > MAX_NOTE_BYTES:
        raise _bad_note("the note is too large")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_note("a note is UTF-8 text") from exc
    split = decoded.rfind("\n\n")
    if split < 0:
        raise _bad_note("a note has no blank line before its signatures")
    text, sigs = decoded[: split + 1], decoded[split + 2 :]
    _check_text(text)
    if not sigs.endswith("\n"):
        raise _bad_note("the signature lines do not end in a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _bad_note(f"more than {MAX_SIGNATURES} signatures")
    known = {(v.name, v.key_id): v for v in verifiers}
    signed: list[str] = []
    for line in lines:
        name, blob = _signature_parts(line)
        raw = _b64(blob, "signature", code="audit_checkpoint_invalid")
        if len(raw) < 5:
            raise _bad_note("a signature is too short")
        verifier = known.get((name, int(struct.unpack(">I", raw[:4])[0])))
        if verifier is None:
            continue  # an unknown key (or a key id under another name): ignored (LOG-11)
        if not verifier.verify(text.encode(), raw[4:]):
            raise AuditError(
                f"the signature by {name} does not verify",
                code="audit_signature_invalid",
                status=422,
            )
        signed.append(name)
    if not signed:
        raise AuditError(
            "no signature by a known key (is the pinned key the log's key?)",
            code="audit_signature_invalid",
            status=422,
        )
    return OpenedNote(text, tuple(signed))


def _signature_parts(line: str) -> tuple[str, str]:
    if not line.startswith(_DASH):
        raise _bad_note("a signature line starts with an em dash and a space")
    name, sep, blob = line[len(_DASH) :].partition(" ")
    if not sep or not name or " " in blob or not blob:
        raise _bad_note("a signature line is '— <name> <base64>'")
    return name, blob


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise _bad_note("a note's text ends in a newline")
    if any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F for c in text):
        raise _bad_note("a note's text holds control characters")


def _b64(text: str, what: str, *, code: str = "audit_key_invalid") -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AuditError(f"the {what} is not base64", code=code, status=400) from exc
