"""Tamper evidence: `verify_log` detects any change, deletion, insertion, reordering or truncation
of entries (hypothesis, LOG-24/26), and forks, rollbacks, replays and wrong keys (LOG-20..22)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.audit._support import ORIGIN, build_log, entry
from zerogate.audit import (
    AuditError,
    AuditRecord,
    Checkpoint,
    NoteSigner,
    leaf_hash,
    open_checkpoint,
    sign_checkpoint,
    verify_log,
)
from zerogate.audit._segments import frame, scan

SIGNER = NoteSigner.generate(ORIGIN)
COUNT = 24


@pytest.fixture(scope="module")
def pristine() -> Iterator[Path]:
    """24 entries over several segments, a checkpoint every 5 and one at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "audit"
        build_log(directory, COUNT, signer=SIGNER, checkpoint_every=5, segment_bytes=4096)
        assert len(list((directory / "segments").iterdir())) >= 3
        assert verify_log(directory, SIGNER.verifier()).size == COUNT
        yield directory


def _segments(directory: Path) -> list[Path]:
    return sorted((directory / "segments").iterdir())


def _records(path: Path) -> list[bytes]:
    return scan(path.read_bytes()).records


def _write(path: Path, records: list[bytes]) -> None:
    path.write_bytes(b"".join(frame(r) for r in records))


def _flip(directory: Path, draw: st.DrawFn) -> None:
    path = draw(st.sampled_from(_segments(directory)))
    data = bytearray(path.read_bytes())
    at = draw(st.integers(0, len(data) - 1))
    data[at] ^= draw(st.integers(1, 255))
    path.write_bytes(bytes(data))


def _change(directory: Path, draw: st.DrawFn) -> None:
    """Rewrite one entry's content, re-framed so the checksum is right (a careful attacker)."""
    path = draw(st.sampled_from(_segments(directory)))
    records = _records(path)
    at = draw(st.integers(0, len(records) - 1))
    old = AuditRecord.from_bytes(records[at])
    field = draw(st.sampled_from(["reason", "principal", "decision", "time"]))
    if field == "decision":
        changed = entry(
            int(old.entry.attrs["n"]), decision="allow" if old.entry.decision == "deny" else "deny"
        )
        new = AuditRecord(old.seq, old.time, changed)
    elif field == "time":
        from datetime import timedelta

        new = AuditRecord(old.seq, old.time + timedelta(microseconds=1), old.entry)
    else:
        changed = entry(int(old.entry.attrs["n"]), **{field: draw(st.text(max_size=10)) + "!"})
        new = AuditRecord(old.seq, old.time, changed)
    records[at] = new.to_bytes()
    _write(path, records)


def _delete(directory: Path, draw: st.DrawFn) -> None:
    path = draw(st.sampled_from(_segments(directory)))
    records = _records(path)
    del records[draw(st.integers(0, len(records) - 1))]
    _write(path, records)


def _insert(directory: Path, draw: st.DrawFn) -> None:
    """A new, well-formed entry anywhere but after the very last one (that is a plain append)."""
    paths = _segments(directory)
    index = draw(st.integers(0, len(paths) - 1))
    records = _records(paths[index])
    last = len(records) if index < len(paths) - 1 else len(records) - 1
    at = draw(st.integers(0, last))
    template = AuditRecord.from_bytes(records[min(at, len(records) - 1)])
    seq = draw(st.sampled_from([template.seq, template.seq + 1]))
    records.insert(at, AuditRecord(seq, template.time, entry(999)).to_bytes())
    _write(paths[index], records)


def _reorder(directory: Path, draw: st.DrawFn) -> None:
    path = draw(st.sampled_from(_segments(directory)))
    records = _records(path)
    i = draw(st.integers(0, len(records) - 2))
    j = draw(st.integers(i + 1, len(records) - 1))
    records[i], records[j] = records[j], records[i]
    _write(path, records)


def _truncate(directory: Path, draw: st.DrawFn) -> None:
    path = _segments(directory)[-1]
    data = path.read_bytes()
    path.write_bytes(data[: draw(st.integers(0, len(data) - 1))])


def _drop_segment(directory: Path, draw: st.DrawFn) -> None:
    draw(st.sampled_from(_segments(directory))).unlink()


MUTATIONS = {
    "flip": _flip,
    "change": _change,
    "delete": _delete,
    "insert": _insert,
    "reorder": _reorder,
    "truncate": _truncate,
    "drop_segment": _drop_segment,
}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(MUTATIONS)), data=st.data())
def test_tamper_any_change_to_the_entries_is_detected(
    pristine: Path, name: str, data: st.DataObject
) -> None:
    """LOG-24/26: flip a byte, rewrite, delete, insert, reorder, truncate, drop a segment."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "audit"
        shutil.copytree(pristine, directory)
        MUTATIONS[name](directory, data.draw)
        with pytest.raises(AuditError) as alarm:
            verify_log(directory, SIGNER.verifier())
        assert alarm.value.code.startswith("audit_")


@pytest.fixture
def log_copy(pristine: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "audit"
    shutil.copytree(pristine, directory)
    return directory


def _checkpoints(directory: Path) -> list[Path]:
    return sorted((directory / "checkpoints").iterdir())


def test_tamper_wrong_key_and_wrong_origin_are_refused(log_copy: Path) -> None:
    """LOG-20: only the pinned key, only the expected origin."""
    with pytest.raises(AuditError) as wrong_key:
        verify_log(log_copy, NoteSigner.generate(ORIGIN).verifier())
    assert wrong_key.value.code == "audit_signature_invalid"
    with pytest.raises(AuditError) as wrong_origin:
        verify_log(log_copy, SIGNER.verifier(), origin="other.test/audit")
    assert wrong_origin.value.code == "audit_origin_mismatch"


def test_tamper_an_unknown_extra_signature_is_ignored(log_copy: Path) -> None:
    """LOG-11/26: a cosignature by a key we do not know changes nothing."""
    stranger = NoteSigner.generate("witness.example")
    for path in _checkpoints(log_copy):
        text = path.read_text().split("\n\n")[0] + "\n"
        path.write_text(path.read_text() + stranger.signature_line(text))
    assert verify_log(log_copy, SIGNER.verifier()).checkpoints == len(_checkpoints(log_copy))


def test_tamper_a_forked_checkpoint_is_an_alarm(log_copy: Path) -> None:
    """LOG-22: a checkpoint of an existing size but another root (even validly signed)."""
    victim = _checkpoints(log_copy)[1]
    size = open_checkpoint(victim.read_text(), [SIGNER.verifier()], origin=ORIGIN).size
    victim.write_text(sign_checkpoint(Checkpoint(ORIGIN, size, leaf_hash(b"fork")), SIGNER))
    with pytest.raises(AuditError) as alarm:
        verify_log(log_copy, SIGNER.verifier())
    assert alarm.value.code == "audit_root_mismatch"


def test_tamper_a_checkpoint_file_renamed_to_another_size(log_copy: Path) -> None:
    first, second = _checkpoints(log_copy)[:2]
    second.unlink()
    first.rename(second)
    with pytest.raises(AuditError) as alarm:
        verify_log(log_copy, SIGNER.verifier())
    assert alarm.value.code == "audit_checkpoint_invalid"


def test_tamper_rollback_and_replay_against_a_trusted_checkpoint(
    log_copy: Path, tmp_path: Path
) -> None:
    """LOG-21/22/25: an auditor who kept the latest checkpoint elsewhere catches a rollback to
    an older state (old checkpoint replayed, newer entries and checkpoints removed)."""
    latest = open_checkpoint(
        _checkpoints(log_copy)[-1].read_text(), [SIGNER.verifier()], origin=ORIGIN
    )
    assert verify_log(log_copy, SIGNER.verifier(), trusted=latest).size == COUNT
    older = open_checkpoint(
        _checkpoints(log_copy)[0].read_text(), [SIGNER.verifier()], origin=ORIGIN
    )
    assert verify_log(log_copy, SIGNER.verifier(), trusted=older).size == COUNT
    # Roll back: keep only the entries and checkpoints up to the first checkpoint.
    for path in _checkpoints(log_copy)[1:]:
        path.unlink()
    keep = older.size
    for path in sorted((log_copy / "segments").iterdir()):
        first = int(path.stem)
        records = _records(path)
        if first >= keep:
            path.unlink()
        else:
            _write(path, records[: keep - first])
    assert verify_log(log_copy, SIGNER.verifier()).size == keep  # consistent on its own...
    with pytest.raises(AuditError) as alarm:  # ...but not with what the auditor saw
        verify_log(log_copy, SIGNER.verifier(), trusted=latest)
    assert alarm.value.code == "audit_rollback"
    fork = Checkpoint(ORIGIN, older.size, leaf_hash(b"another history"))
    with pytest.raises(AuditError) as forked:
        verify_log(log_copy, SIGNER.verifier(), trusted=fork)
    assert forked.value.code == "audit_fork"
