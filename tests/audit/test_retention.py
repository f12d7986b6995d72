"""Retention by age and by size: whole sealed segments go, a signed checkpoint stays at the cut,
and the kept log still verifies, proves and grows from there."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.audit._support import ORIGIN, clock, entry
from zerogate.audit import (
    AuditError,
    NoteSigner,
    SyncAuditLog,
    open_checkpoint,
    prove,
    read_records,
    verify_log,
)
from zerogate.clock import FixedClock

SEGMENT = 4096  # about 8 entries a segment


def _log(directory: Path, signer: NoteSigner, now: FixedClock, **options: Any) -> SyncAuditLog:
    return SyncAuditLog(
        directory,
        signer=signer,
        clock=now,
        origin=ORIGIN,
        checkpoint_interval_s=0,
        segment_bytes=SEGMENT,
        **options,
    )


def test_retention_by_age_cuts_old_segments_and_keeps_a_checkpoint_at_the_cut(
    tmp_path: Path,
) -> None:
    signer = NoteSigner.generate(ORIGIN)
    now = clock()
    with _log(tmp_path, signer, now, retention_days=1) as log:
        for n in range(40):
            log.append(entry(n))
            now.advance(3600)  # an hour apart: 40 hours in all
            if n % 10 == 9:
                log.checkpoint()
        cut = log.apply_retention()
        assert cut is not None
        assert cut.segments >= 1
        start = cut.start
        assert 0 < start < 40
        for n in range(40, 45):  # the log goes on after the cut
            assert log.append(entry(n)) == n
    kept = [r.seq for r in read_records(tmp_path)]
    assert kept == list(range(start, 45))
    oldest = next(read_records(tmp_path)).time
    assert now.now() - oldest <= timedelta(days=1, hours=9)  # a day, plus the rest of a segment
    result = verify_log(tmp_path, signer.verifier())
    assert (result.start, result.size, result.unsigned) == (start, 45, 0)
    # The cut's checkpoint is signed and covers exactly the removed entries.
    cut_doc = orjson.loads((tmp_path / "cut.json").read_bytes())
    at_cut = open_checkpoint(cut_doc["checkpoint"], [signer.verifier()], origin=ORIGIN)
    assert at_cut.size == start
    assert all(int(p.stem) >= start for p in (tmp_path / "checkpoints").iterdir())
    proof = prove(tmp_path, start, signer.verifier())  # the first kept entry still proves
    proof.verify(signer.verifier())
    with pytest.raises(AuditError) as gone:
        prove(tmp_path, start - 1, signer.verifier())
    assert gone.value.code == "audit_entry_not_found"


def test_retention_by_size_keeps_the_log_under_the_limit(tmp_path: Path) -> None:
    signer = NoteSigner.generate(ORIGIN)
    with _log(tmp_path, signer, clock(), retention_bytes=3 * SEGMENT) as log:
        for n in range(60):
            log.append(entry(n))
        assert log.apply_retention() is not None
        assert log.apply_retention() is None  # nothing more is due
    total = sum(p.stat().st_size for p in (tmp_path / "segments").iterdir())
    assert total <= 3 * SEGMENT
    result = verify_log(tmp_path, signer.verifier())
    assert result.size == 60
    assert result.start > 0
    # Reopening after a cut rebuilds nothing it does not have to, and still verifies.
    with _log(tmp_path, signer, clock()) as log:
        assert log.append(entry(60)) == 60
    assert verify_log(tmp_path, signer.verifier()).size == 61


def test_retention_cut_record_is_checked(tmp_path: Path) -> None:
    """The frontier in cut.json must hash to its signed checkpoint, or nothing verifies."""
    signer = NoteSigner.generate(ORIGIN)
    with _log(tmp_path, signer, clock(), retention_bytes=2 * SEGMENT) as log:
        for n in range(40):
            log.append(entry(n))
        log.apply_retention()
    cut_path = tmp_path / "cut.json"
    doc = orjson.loads(cut_path.read_bytes())
    doc["frontier"][0] = base64.b64encode(b"\x07" * 32).decode()
    cut_path.write_bytes(orjson.dumps(doc))
    with pytest.raises(AuditError) as alarm:
        verify_log(tmp_path, signer.verifier())
    assert alarm.value.code == "audit_cut_invalid"


def test_retention_never_cuts_the_active_segment(tmp_path: Path) -> None:
    signer = NoteSigner.generate(ORIGIN)
    with _log(tmp_path, signer, clock(), retention_bytes=1) as log:
        for n in range(3):
            log.append(entry(n))
        assert log.apply_retention() is None
    assert len(list(read_records(tmp_path))) == 3
