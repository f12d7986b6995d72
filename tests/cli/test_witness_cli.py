"""`zerogate witness init|serve` arguments and `zerogate audit verify --witness`, in-process
(the real-server, real-process run is tests/cli/test_witness_e2e.py)."""

from __future__ import annotations

import base64
import json
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.audit._support import ORIGIN, build_log
from tests.cli._cli import run, run_json
from zerogate.audit import (
    WITNESSED_DIR,
    AddCheckpoint,
    CosignatureSigner,
    NoteSigner,
    Witness,
    WitnessedStore,
    WitnessState,
)
from zerogate.clock import FixedClock

W1 = "witness.test/w1"


def test_witness_init_writes_a_private_key_and_prints_its_vkey(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "witness.key"
    code, doc = run_json("witness", "init", "--name", W1, "--key", key, "--json")
    assert code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert doc["vkey"].startswith(f"{W1}+")
    assert CosignatureSigner.from_skey(key.read_text()).verifier().vkey == doc["vkey"]
    again = run("witness", "init", "--name", W1, "--key", key)
    assert again.exit_code == 1
    assert "[witness_key_exists]" in again.stderr
    assert CosignatureSigner.from_skey(key.read_text()).verifier().vkey == doc["vkey"]
    bad = run("witness", "init", "--name", "has space", "--key", tmp_path / "other.key")
    assert bad.exit_code == 1
    assert "[audit_key_invalid]" in bad.stderr


def test_witness_serve_reports_every_bad_log_option_at_once(tmp_path: Path) -> None:
    key = tmp_path / "witness.key"
    run("witness", "init", "--name", W1, "--key", key)
    code, doc = run_json(
        "witness", "serve", "--key", key, "--state", tmp_path / "state",
        "--log", "no-equals-sign", "--log", f"{ORIGIN}=not+a+key", "--json",
    )  # fmt: skip
    assert code == 1
    assert [e["loc"] for e in doc["errors"]] == ["--log[0]", "--log[1]"]
    assert {e["code"] for e in doc["errors"]} == {"witness_log_invalid"}


def test_witness_serve_refuses_a_key_others_can_read(tmp_path: Path) -> None:
    key = tmp_path / "witness.key"
    run("witness", "init", "--name", W1, "--key", key)
    key.chmod(0o644)
    log_key = NoteSigner.generate(ORIGIN).verifier().vkey
    result = run(
        "witness", "serve", "--key", key, "--state", tmp_path / "state",
        "--log", f"{ORIGIN}={log_key}", "--port", "0",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "[audit_key_insecure]" in result.stderr


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


def _cosign(audit_dir: Path, witness: Witness, size: int, old: int = 0) -> None:
    """What the log's witnessing task does, done by hand: submit and keep the cosignature."""
    from zerogate.audit import HashTree, leaf_hash
    from zerogate.audit._segments import iter_payloads

    note = (audit_dir / "checkpoints" / f"{size:020d}.note").read_text()
    tree = HashTree()
    for _seq, payload in iter_payloads(audit_dir / "segments", start_seq=0):
        tree.append(leaf_hash(payload))
    proof = tuple(tree.consistency_proof(old, size)) if old else ()
    line = witness.add_checkpoint(AddCheckpoint(old, proof, note).encode())
    WitnessedStore(audit_dir).add(size, note, [line])


def test_audit_verify_with_witness_keys(tmp_path: Path, signer: NoteSigner) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 12, signer=signer, checkpoint_every=4)
    w1, w2 = CosignatureSigner.generate(W1), CosignatureSigner.generate("witness.test/w2")
    logs = {ORIGIN: [signer.verifier()]}
    one = Witness(w1, logs, WitnessState(tmp_path / "w1"), clock=FixedClock())
    two = Witness(w2, logs, WitnessState(tmp_path / "w2"), clock=FixedClock())
    _cosign(audit_dir, one, 4)
    _cosign(audit_dir, one, 8, old=4)
    _cosign(audit_dir, two, 8)
    _cosign(audit_dir, one, 12, old=8)  # w2 has not seen 12 yet
    key = signer.verifier().vkey
    base = ("audit", "verify", "--dir", audit_dir, "--key", key)
    vkey_file = tmp_path / "w2.vkey"
    vkey_file.write_text(w2.verifier().vkey + "\n")

    result = run(*base, "--witness", w1.verifier().vkey)
    assert result.exit_code == 0, result.output
    assert f"witnessed: checkpoint at 12 cosigned by {W1}" in result.stdout
    code, doc = run_json(*base, "--witness", w1.verifier().vkey, "--witness", vkey_file, "--json")
    assert code == 0
    assert doc["witnessed"]["size"] == 8  # the newest one both cosigned
    assert doc["witnessed"]["cosigners"] == [W1, "witness.test/w2"]
    assert doc["witnessed"]["unwitnessed"] == 4
    # A witness the log never reached: no anchor outside the host is an alarm.
    stranger = CosignatureSigner.generate("witness.test/w3").verifier().vkey
    code, doc = run_json(*base, "--witness", stranger, "--json")
    assert code == 1
    assert doc["code"] == "audit_not_witnessed"
    # A tampered cosignature by a pinned witness fails closed.
    path = audit_dir / WITNESSED_DIR / f"{12:020d}.note"
    text = path.read_text()
    head, _, last = text.rstrip("\n").rpartition("\n")
    dash, name, blob = last.split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1  # the witness's signature, one bit off
    path.write_text(f"{head}\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n")
    code, doc = run_json(*base, "--witness", w1.verifier().vkey, "--json")
    assert code == 1
    assert doc["code"] == "audit_signature_invalid"
    # Without --witness nothing changes for the plain verification (and --trusted still works).
    trusted = tmp_path / "trusted.note"
    shutil.copy(audit_dir / "checkpoints" / f"{8:020d}.note", trusted)
    assert run(*base, "--trusted", trusted).exit_code == 0
    path.write_text(text)
    assert run(*base, "--trusted", trusted, "--witness", w1.verifier().vkey).exit_code == 0


def test_audit_verify_witness_catches_a_history_rewritten_and_re_signed(
    tmp_path: Path, signer: NoteSigner
) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 8, signer=signer, checkpoint_every=4)
    w1 = CosignatureSigner.generate(W1)
    witness = Witness(
        w1, {ORIGIN: [signer.verifier()]}, WitnessState(tmp_path / "w"), clock=FixedClock()
    )
    _cosign(audit_dir, witness, 8)
    forged = tmp_path / "forged"
    build_log(forged, 10, signer=signer, tick=FixedClock(at=datetime(2027, 1, 1, tzinfo=UTC)))
    for part in ("segments", "checkpoints", "tree"):
        shutil.rmtree(audit_dir / part)
        shutil.copytree(forged / part, audit_dir / part)
    base = ("audit", "verify", "--dir", audit_dir, "--key", signer.verifier().vkey, "--json")
    code, doc = run_json(*base)
    assert code == 0  # the log's own key vouches for the rewrite: only the witness can tell
    code, doc = run_json(*base, "--witness", w1.verifier().vkey)
    assert code == 1
    assert doc["code"] == "audit_fork", json.dumps(doc)
