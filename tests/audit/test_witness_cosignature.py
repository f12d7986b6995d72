"""Cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1): known answers from real
witnesses and Go's transparency-dev/formats, the exact signed bytes, round trips, negatives."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from zerogate.audit import (
    AuditError,
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    NoteSigner,
    NoteVerifier,
    open_cosigned,
    open_note,
    sign_checkpoint,
)
from zerogate.audit._cosignature import cosignature_key_id, cosignature_time, cosigned_message

# A checkpoint of the Static CT staging log arche2025h1.staging.ct.transparency.dev as served
# with its witness cosignatures (quoted in public test suites of C2SP tooling). The first line is
# an RFC 6962 STH signature (type 0x05) and four lines are witnesses we do not pin: all must be
# ignored. The log's Ed25519 key and the remora.n621.de witness key are their published vkeys
# (the latter is also in transparency-dev/formats note/note_cosigv1_test.go).
REAL_ORIGIN = "arche2025h1.staging.ct.transparency.dev"
REAL_LOG_VKEY = f"{REAL_ORIGIN}+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
REMORA_LINE = (
    "\u2014 remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVC"
    "IobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n"
)
REAL_BODY = f"{REAL_ORIGIN}\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
REAL_NOTE = (
    REAL_BODY
    + "\n"
    + "\u2014 arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6"
    "hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"
    "\u2014 arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwh"
    "UkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"
    "\u2014 transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYT"
    "zwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n"
    "\u2014 witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+"
    "/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n"
    + REMORA_LINE
    + "\u2014 witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUv"
    "Vr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n"
)

SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SEED = bytes(range(32))


def _signer(name: str = "witness.test/w1") -> CosignatureSigner:
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    public = private.public_key().public_bytes_raw()
    return CosignatureSigner(name, cosignature_key_id(name, public), private)


def test_cosignature_verifies_a_real_witness_cosignature() -> None:
    cosigned = open_cosigned(
        REAL_NOTE,
        log=NoteVerifier.from_vkey(REAL_LOG_VKEY),
        witnesses=[CosignatureVerifier.from_vkey(REMORA_VKEY)],
        origin=REAL_ORIGIN,
    )
    assert cosigned.checkpoint.size == 1432088532
    assert cosigned.cosigners == ("remora.n621.de",)
    assert cosigned.times == (0x6A122120,)  # the 8 bytes after the key ID, big-endian


def test_cosignature_real_witness_rejects_a_changed_size() -> None:
    changed = REAL_NOTE.replace("1432088532", "1432088533")
    with pytest.raises(AuditError) as caught:
        open_note(changed, [CosignatureVerifier.from_vkey(REMORA_VKEY)])
    assert caught.value.code == "audit_signature_invalid"


def test_cosignature_vkey_known_answers() -> None:
    remora = CosignatureVerifier.from_vkey(REMORA_VKEY)
    assert remora.key_id == 0xDA77ADE7  # SHA-256(name || 0x0A || 0x04 || key)[:4]
    assert remora.vkey == REMORA_VKEY
    # A standard Ed25519 note key (type 0x01) is not a cosignature key: its ID differs.
    with pytest.raises(AuditError) as caught:
        CosignatureVerifier.from_vkey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert caught.value.code == "audit_key_invalid"
    for bad in (
        "rekor.sigstore.dev+12344556",
        "remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "other.name+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "remora.n621.de+da77ade7+THIS_IS_NOT_BASE64!",
    ):
        with pytest.raises(AuditError):
            CosignatureVerifier.from_vkey(bad)


def test_cosignature_time_known_answer_from_go() -> None:
    # transparency-dev/formats TestCoSigV1Timestamp: this signature carries 1727964367.
    blob = "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
    assert cosignature_time(f"\u2014 w {blob}") == 1727964367
    assert cosignature_time(REMORA_LINE) == 0x6A122120
    with pytest.raises(AuditError):  # a plain Ed25519 note signature is no cosignature
        cosignature_time(
            "\u2014 w eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpW"
            "s1hPb/W/4xkNQY="
        )


def test_cosignature_signs_exactly_the_spec_message() -> None:
    signer = _signer()
    assert cosigned_message(SPEC_BODY, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    line = signer.cosign(SPEC_BODY, timestamp=1679315147)
    assert line.startswith("\u2014 witness.test/w1 ")
    assert line.endswith("\n")
    raw = base64.b64decode(line.split(" ")[2])
    assert len(raw) == 4 + 8 + 64
    assert struct.unpack(">I", raw[:4])[0] == signer.key_id
    assert struct.unpack(">Q", raw[4:12])[0] == 1679315147
    # Checked with the bare Ed25519 primitive over the spec's message, not our verifier.
    public = Ed25519PrivateKey.from_private_bytes(SEED).public_key()
    public.verify(raw[12:], cosigned_message(SPEC_BODY, 1679315147))
    # Ed25519 is deterministic: the same key, body and time give the same line.
    assert signer.cosign(SPEC_BODY, timestamp=1679315147) == line


def test_cosignature_key_files_round_trip() -> None:
    signer = CosignatureSigner.generate("witness.test/w1")
    again = CosignatureSigner.from_skey(signer.skey)
    assert again.verifier().vkey == signer.verifier().vkey
    assert signer.skey.startswith(f"PRIVATE+KEY+witness.test/w1+{signer.key_id:08x}+B")
    assert CosignatureVerifier.from_vkey(signer.verifier().vkey) == signer.verifier()
    note_skey = NoteSigner.generate("witness.test/w1").skey  # type 0x01: refused
    with pytest.raises(AuditError):
        CosignatureSigner.from_skey(note_skey)
    with pytest.raises(AuditError):
        CosignatureSigner.from_skey(signer.skey.replace(f"{signer.key_id:08x}", "00000000"))


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=2**40),
    root=st.binary(min_size=32, max_size=32),
    timestamp=st.integers(min_value=0, max_value=2**63 - 1),
    extension=st.sampled_from(["", "ext line\n"]),
)
def test_cosignature_round_trip_and_tamper(
    size: int, root: bytes, timestamp: int, extension: str
) -> None:
    log = NoteSigner.generate("log.test/audit")
    witness = _signer()
    body = Checkpoint("log.test/audit", size, root).body() + extension
    note = sign_checkpoint(Checkpoint("log.test/audit", size, root), log)
    if extension:
        note = body + "\n" + log.signature_line(body)
    cosigned_note = note + witness.cosign(body, timestamp=timestamp)
    found = open_cosigned(
        cosigned_note, log=log.verifier(), witnesses=[witness.verifier()], origin="log.test/audit"
    )
    assert found.cosigners == ("witness.test/w1",)
    assert found.times == (timestamp,)
    # The cosignature covers the whole body, extension lines included.
    tampered = cosigned_note.replace(body, body[:-1] + "x\n") if extension else None
    if tampered is not None:
        with pytest.raises(AuditError):
            open_note(tampered, [witness.verifier()])


def test_cosignature_wrong_key_unknown_extra_and_id_collision() -> None:
    log = NoteSigner.generate("log.test/audit")
    checkpoint = Checkpoint("log.test/audit", 5, b"\x11" * 32)
    note = sign_checkpoint(checkpoint, log)
    pinned, other = _signer(), CosignatureSigner.generate("witness.test/w1")
    body = checkpoint.body()
    # An unknown witness's cosignature is ignored: the pinned witness simply did not cosign.
    stranger = note + CosignatureSigner.generate("stranger.test").cosign(body, timestamp=7)
    found = open_cosigned(
        stranger, log=log.verifier(), witnesses=[pinned.verifier()], origin=checkpoint.origin
    )
    assert found.cosigners == ()
    # The pinned key's ID under another name is someone else: ignored, not an error (LOG-26).
    renamed = pinned.cosign(body, timestamp=7).replace("witness.test/w1", "impostor.test")
    found = open_cosigned(
        note + renamed, log=log.verifier(), witnesses=[pinned.verifier()], origin=checkpoint.origin
    )
    assert found.cosigners == ()
    # Same name, another key (a different key ID): ignored as unknown.
    found = open_cosigned(
        note + other.cosign(body, timestamp=7),
        log=log.verifier(),
        witnesses=[pinned.verifier()],
        origin=checkpoint.origin,
    )
    assert found.cosigners == ()
    # A pinned witness's line that does not verify rejects the note (fail closed).
    good = pinned.cosign(body, timestamp=7)
    raw = bytearray(base64.b64decode(good.split(" ")[2]))
    raw[-1] ^= 1
    forged = f"\u2014 witness.test/w1 {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(AuditError) as caught:
        open_cosigned(
            note + forged,
            log=log.verifier(),
            witnesses=[pinned.verifier()],
            origin=checkpoint.origin,
        )
    assert caught.value.code == "audit_signature_invalid"
    # A cosignature is not a log signature: without the log's own line the note is refused.
    with pytest.raises(AuditError) as caught:
        open_cosigned(
            body + "\n" + good,
            log=log.verifier(),
            witnesses=[pinned.verifier()],
            origin=checkpoint.origin,
        )
    assert caught.value.code == "audit_signature_invalid"
    # A timestamp above 2^63-1 never verifies.
    raw = bytearray(base64.b64decode(good.split(" ")[2]))
    raw[4:12] = struct.pack(">Q", 2**63)
    assert not pinned.verifier().verify(body.encode(), bytes(raw[4:]))
    with pytest.raises(AuditError):
        pinned.cosign(body, timestamp=2**63)
