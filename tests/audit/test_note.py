"""C2SP signed notes and checkpoints: the Go sumdb/note and c2sp.org vectors (LOG-11), and the
refusals of LOG-20 and LOG-26 (wrong key, wrong origin, control characters, key-id collisions)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from zerogate.audit import (
    AuditError,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    leaf_hash,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)

V = json.loads((Path(__file__).parents[1] / "vectors" / "signed_note.json").read_text())
GO = V["go"]


def test_note_signs_the_go_vector_byte_for_byte() -> None:
    """Ed25519 is deterministic: our signature line equals Go's (LOG-11 key id and layout)."""
    signer = NoteSigner.from_skey(GO["skey"])
    assert signer.verifier().vkey == GO["vkey"]
    assert signer.skey == GO["skey"]
    assert sign_note(GO["text"], [signer]) == GO["text"] + "\n" + GO["signature_line"]


def test_note_opens_go_and_c2sp_notes() -> None:
    opened = open_note(
        GO["text"] + "\n" + GO["signature_line"], [NoteVerifier.from_vkey(GO["vkey"])]
    )
    assert opened.text == GO["text"]
    assert opened.signers == ("PeterNeumann",)
    c2sp = V["c2sp"]
    assert open_note(c2sp["note"], [NoteVerifier.from_vkey(c2sp["vkey"])]).text == (
        "This is an example message.\n"
    )


def test_note_ignores_unknown_signatures_and_needs_a_known_one() -> None:
    """LOG-11/26: an extra signature by an unknown key is ignored; none known is a refusal."""
    peter, enoch = NoteVerifier.from_vkey(GO["vkey"]), NoteVerifier.from_vkey(V["enoch"]["vkey"])
    both = GO["text"] + "\n" + GO["signature_line"] + V["enoch"]["signature_line"]
    assert open_note(both, [peter]).signers == ("PeterNeumann",)
    assert open_note(both, [peter, enoch]).signers == ("PeterNeumann", "EnochRoot")
    with pytest.raises(AuditError) as refused:
        open_note(GO["text"] + "\n" + GO["signature_line"], [enoch])
    assert refused.value.code == "audit_signature_invalid"


def test_note_refuses_a_bad_signature_by_a_known_key() -> None:
    raw = bytearray(base64.b64decode(GO["signature_line"].split()[-1]))
    raw[-1] ^= 1
    line = f"\u2014 PeterNeumann {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(AuditError) as refused:
        open_note(GO["text"] + "\n" + line, [NoteVerifier.from_vkey(GO["vkey"])])
    assert refused.value.code == "audit_signature_invalid"


def test_note_a_key_id_under_another_name_is_ignored() -> None:
    """LOG-26: the right key id with a wrong name is an unknown key, not ours."""
    line = GO["signature_line"].replace("PeterNeumann", "PeterNeumann2")
    with pytest.raises(AuditError) as refused:
        open_note(GO["text"] + "\n" + line, [NoteVerifier.from_vkey(GO["vkey"])])
    assert refused.value.code == "audit_signature_invalid"


@pytest.mark.parametrize(
    "text",
    ["tab\there\n", "bell\x07\n", "no final newline", "cr\r\n"],
)
def test_note_refuses_control_characters_and_unterminated_text(text: str) -> None:
    """LOG-11/26: UTF-8 text, no control characters but newline."""
    signer = NoteSigner.generate("example.test/log")
    with pytest.raises(AuditError) as refused:
        sign_note(text, [signer])
    assert refused.value.code == "audit_checkpoint_invalid"
    forged = text + "\n" + signer.signature_line(text)
    with pytest.raises(AuditError):
        open_note(forged, [signer.verifier()])


def test_note_refuses_malformed_keys() -> None:
    with pytest.raises(AuditError) as bad_id:
        NoteVerifier.from_vkey(GO["vkey"].replace("c74f20a3", "c74f20a4"))
    assert bad_id.value.code == "audit_key_invalid"
    for vkey in ("", "name", "na me+c74f20a3+AAAA", "PeterNeumann+c74f20a3+!!!"):
        with pytest.raises(AuditError):
            NoteVerifier.from_vkey(vkey)
    with pytest.raises(AuditError):
        NoteSigner.from_skey(GO["vkey"])


# -- checkpoints (LOG-10, LOG-20) -------------------------------------------------------------


def test_checkpoint_body_is_origin_size_and_base64_root() -> None:
    root = leaf_hash(b"x")
    made = Checkpoint("example.test/log", 42, root)
    assert made.body() == f"example.test/log\n42\n{base64.b64encode(root).decode()}\n"
    assert Checkpoint.parse(made.body()) == made
    for bad in ("o\n042\nAAAA\n", "o\n-1\nAAAA\n", "o\n4\n" + "A" * 44 + "\n", "o\n4\n"):
        with pytest.raises(AuditError):
            Checkpoint.parse(bad)


def test_checkpoint_opens_only_with_the_pinned_key_and_origin() -> None:
    """LOG-20/26: a checkpoint signed by another key, or for another origin, is refused."""
    signer = NoteSigner.generate("example.test/log")
    note = sign_checkpoint(Checkpoint("example.test/log", 3, leaf_hash(b"r")), signer)
    assert open_checkpoint(note, [signer.verifier()], origin="example.test/log").size == 3
    impostor = NoteSigner.generate("example.test/log")
    with pytest.raises(AuditError) as wrong_key:
        open_checkpoint(note, [impostor.verifier()], origin="example.test/log")
    assert wrong_key.value.code == "audit_signature_invalid"
    with pytest.raises(AuditError) as wrong_origin:
        open_checkpoint(note, [signer.verifier()], origin="other.test/log")
    assert wrong_origin.value.code == "audit_origin_mismatch"
    tampered = note.replace("\n3\n", "\n4\n")
    with pytest.raises(AuditError) as changed:
        open_checkpoint(tampered, [signer.verifier()], origin="example.test/log")
    assert changed.value.code == "audit_signature_invalid"
