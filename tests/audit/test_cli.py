"""`zerogate audit verify|prove|tail|search|export` on a real log, as a user types them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.audit._support import ORIGIN, build_log
from tests.cli._cli import run, run_json
from zerogate.audit import NoteSigner, leaf_hash, verify_inclusion
from zerogate.audit._segments import frame, scan

COUNT = 12


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture
def log_dir(tmp_path: Path, signer: NoteSigner) -> Path:
    directory = tmp_path / "audit"
    build_log(directory, COUNT, signer=signer, checkpoint_every=4)
    return directory


def _key(signer: NoteSigner) -> str:
    return signer.verifier().vkey


def test_cli_verify_ok(log_dir: Path, signer: NoteSigner) -> None:
    result = run("audit", "verify", "--dir", log_dir, "--key", _key(signer))
    assert result.exit_code == 0, result.output
    assert "ok: 12 entries from 0, checkpoint at 12, 3 checkpoint(s) consistent" in result.stdout
    code, doc = run_json("audit", "verify", "--dir", log_dir, "--key", _key(signer), "--json")
    assert code == 0
    assert doc["result"] == "ok"
    assert doc["size"] == COUNT
    assert doc["checkpoint_size"] == COUNT


def test_cli_verify_tampered_log_exits_1_with_the_code(log_dir: Path, signer: NoteSigner) -> None:
    (segment,) = (log_dir / "segments").iterdir()
    records = scan(segment.read_bytes()).records
    records[3] = (
        records[3].replace(b"permitted", b"PERMITTED").replace(b"no matching", b"NO MATCHING")
    )
    segment.write_bytes(b"".join(frame(r) for r in records))
    result = run("audit", "verify", "--dir", log_dir, "--key", _key(signer))
    assert result.exit_code == 1
    assert "[audit_root_mismatch]" in result.stderr
    code, doc = run_json("audit", "verify", "--dir", log_dir, "--key", _key(signer), "--json")
    assert code == 1
    assert doc["code"] == "audit_root_mismatch"


def test_cli_verify_with_a_wrong_key_fails(log_dir: Path) -> None:
    code, doc = run_json(
        "audit", "verify", "--dir", log_dir, "--key", _key(NoteSigner.generate(ORIGIN)), "--json"
    )
    assert code == 1
    assert doc["code"] == "audit_signature_invalid"


def test_cli_verify_reads_the_key_from_a_file_and_warns_without_one(
    log_dir: Path, signer: NoteSigner, tmp_path: Path
) -> None:
    key_file = tmp_path / "pinned.vkey"
    key_file.write_text(_key(signer) + "\n")
    assert run("audit", "verify", "--dir", log_dir, "--key", key_file).exit_code == 0
    (log_dir / "checkpoint.vkey").write_text(_key(signer) + "\n")
    unpinned = run("audit", "verify", "--dir", log_dir, "--config", _config(tmp_path))
    assert unpinned.exit_code == 0, unpinned.output
    assert "LOG-20" in unpinned.stderr


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "zerogate.toml"
    path.write_text(f'[audit]\norigin = "{ORIGIN}"\n')
    return path


def test_cli_prove_by_seq_and_by_decision_id(log_dir: Path, signer: NoteSigner) -> None:
    code, doc = run_json("audit", "prove", "5", "--dir", log_dir, "--key", _key(signer), "--json")
    assert code == 0
    assert doc["seq"] == 5
    assert doc["entry"]["decision_id"] == "dec-5"
    verify_inclusion(
        bytes.fromhex(doc["leaf_hash"]),
        index=5,
        size=doc["tree_size"],
        proof=[base64.b64decode(h) for h in doc["proof"]],
        root=base64.b64decode(doc["root"]),
    )
    assert doc["leaf_hash"] != leaf_hash(b"").hex()
    text = run("audit", "prove", "dec-7", "--dir", log_dir, "--key", _key(signer))
    assert text.exit_code == 0
    assert "entry 7 is in the log of checkpoint 12" in text.stdout
    missing = run("audit", "prove", "99", "--dir", log_dir, "--key", _key(signer))
    assert missing.exit_code == 1
    assert "[audit_not_checkpointed]" in missing.stderr


def test_cli_tail_and_search(log_dir: Path) -> None:
    code, doc = run_json("audit", "tail", "-n", "3", "--dir", log_dir, "--json")
    assert code == 0
    assert [r["seq"] for r in doc["records"]] == [9, 10, 11]
    table = run("audit", "tail", "--dir", log_dir)
    assert table.exit_code == 0
    assert 'User::"user1"' in table.stdout
    assert "no matching permit" in table.stdout
    assert "decision" in table.stdout
    code, doc = run_json("audit", "search", "--decision", "deny", "--dir", log_dir, "--json")
    assert code == 0
    assert [r["seq"] for r in doc["records"]] == [0, 3, 6, 9]
    code, doc = run_json(
        "audit",
        "search",
        "--principal",
        'User::"user1"',
        "--limit",
        "1",
        "--dir",
        log_dir,
        "--json",
    )
    assert [r["seq"] for r in doc["records"]] == [1]
    code, doc = run_json(
        "audit",
        "search",
        "--since",
        "2026-01-05T10:00:05",
        "--until",
        "2026-01-05T10:00:06",
        "--dir",
        log_dir,
        "--json",
    )
    assert [r["seq"] for r in doc["records"]] == [5, 6]
    assert run("audit", "search", "--kind", "nope", "--dir", log_dir).exit_code == 1


def test_cli_export_json_lines_and_ocsf(log_dir: Path, tmp_path: Path) -> None:
    result = run("audit", "export", "--dir", log_dir)
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["seq"] for d in lines] == list(range(COUNT))
    assert lines[0]["decision_id"] == "dec-0"
    assert lines[0]["time"].endswith("Z")
    out = tmp_path / "ocsf.jsonl"
    assert run("audit", "export", "--format", "ocsf", "-o", out, "--dir", log_dir).exit_code == 0
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == COUNT
    first = events[0]
    assert first["class_uid"] == 6001
    assert first["category_uid"] == 6
    assert first["type_uid"] == 600102
    assert first["activity_id"] == 2
    assert first["action_id"] == 2
    assert first["disposition_id"] == 2
    assert first["metadata"]["uid"] == "dec-0"
    assert first["metadata"]["correlation_uid"]
    assert first["policy"] == {"name": "wiki-readers", "uid": "sha256:" + "ab" * 16}
    assert events[1]["action_id"] == 1
    assert events[1]["status_id"] == 1
    bad = run("audit", "export", "--format", "csv", "--dir", log_dir)
    assert bad.exit_code == 1
    assert "[audit_export_format]" in bad.stderr
