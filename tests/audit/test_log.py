"""The writer: durable appends with group commit, back-pressure, counted drops, recovery of a torn
tail on open, one writer per directory, the signing key file, and checkpoints."""

from __future__ import annotations

import asyncio
import functools
import stat
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from tests.audit._support import ORIGIN, clock, entry
from zerogate.audit import (
    KEY_FILE,
    AuditError,
    AuditLog,
    AuditRecord,
    NoteSigner,
    NoteVerifier,
    SyncAuditLog,
    open_checkpoint,
    read_records,
    verify_log,
)
from zerogate.audit._segments import frame


def synced(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (the suite has no async test plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@synced
async def test_log_concurrent_appends_get_contiguous_seqs_and_share_fsyncs(
    tmp_path: Path, signer: NoteSigner
) -> None:
    async with AuditLog.open(
        tmp_path, signer=signer, clock=clock(), origin=ORIGIN, checkpoint_interval_s=0
    ) as log:
        seqs = await asyncio.gather(*(log.append(entry(n)) for n in range(500)))
        assert sorted(s for s in seqs if s is not None) == list(range(500))
        assert log.stats.appended == 500
        assert log.stats.batches < 500  # group commit: batches of concurrent appends
    stored = list(read_records(tmp_path))
    assert [r.seq for r in stored] == list(range(500))
    by_seq = {s: n for n, s in enumerate(seqs)}
    assert all(r.entry == entry(by_seq[r.seq]) for r in stored)  # each seq is its caller's entry
    verify_log(tmp_path, signer.verifier())


@synced
async def test_log_back_pressure_bounds_the_spool(tmp_path: Path, signer: NoteSigner) -> None:
    """Many more concurrent appenders than `max_pending`: callers wait, memory stays bounded."""
    async with AuditLog.open(
        tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0, max_pending=16
    ) as log:
        seqs = await asyncio.gather(*(log.append(entry(n)) for n in range(2000)))
        assert sorted(s for s in seqs if s is not None) == list(range(2000))
        assert log.stats.high_water == 16  # reached, never passed
        assert log.stats.dropped == 0
        assert log.stats.batches >= 2000 // 16


@synced
async def test_log_drops_only_when_configured_and_counts_them(
    tmp_path: Path, signer: NoteSigner
) -> None:
    async with AuditLog.open(
        tmp_path,
        signer=signer,
        origin=ORIGIN,
        checkpoint_interval_s=0,
        max_pending=4,
        drop_when_full=True,
    ) as log:
        seqs = await asyncio.gather(*(log.append(entry(n)) for n in range(50)))
    kept = [s for s in seqs if s is not None]
    assert log.stats.dropped == seqs.count(None) > 0
    assert log.stats.appended == len(kept) == 50 - log.stats.dropped
    assert sorted(kept) == list(range(len(kept)))


@synced
async def test_log_refuses_secrets_and_keeps_working(tmp_path: Path, signer: NoteSigner) -> None:
    async with AuditLog.open(tmp_path, signer=signer, origin=ORIGIN) as log:
        with pytest.raises(AuditError) as refused:
            await log.append(entry(0, reason="Bearer abcdefgh12345678"))
        assert refused.value.code == "audit_secret_refused"
        assert await log.append(entry(1)) == 0
    with pytest.raises(AuditError) as closed:
        await log.append(entry(2))
    assert closed.value.code == "audit_closed"


def test_log_reopen_continues_and_close_signs_a_checkpoint(
    tmp_path: Path, signer: NoteSigner
) -> None:
    for round_ in range(3):
        with SyncAuditLog(tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0) as log:
            assert [log.append(entry(n)) for n in range(10)] == list(
                range(10 * round_, 10 * round_ + 10)
            )
    result = verify_log(tmp_path, signer.verifier())
    assert (result.size, result.checkpoints, result.unsigned) == (30, 3, 0)


def test_log_recovers_a_torn_tail_and_reports_it(tmp_path: Path, signer: NoteSigner) -> None:
    with SyncAuditLog(tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0) as log:
        for n in range(5):
            log.append(entry(n))
    (segment,) = (tmp_path / "segments").iterdir()
    whole = segment.read_bytes()
    with segment.open("ab") as out:  # a crash mid-write: a header and half a record
        out.write(whole[:40])
    unfinished = verify_log(tmp_path, signer.verifier())
    assert unfinished.torn_tail_bytes == 40
    assert unfinished.size == 5
    with SyncAuditLog(tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0) as log:
        assert log.recovery.truncated_bytes == 40
        assert log.recovery.segment == segment.name
        assert log.append(entry(5)) == 5
    assert verify_log(tmp_path, signer.verifier()).torn_tail_bytes == 0
    assert [r.seq for r in read_records(tmp_path)] == list(range(6))


def test_log_has_one_writer_at_a_time(tmp_path: Path, signer: NoteSigner) -> None:
    with SyncAuditLog(tmp_path, signer=signer, origin=ORIGIN):
        with pytest.raises(AuditError) as locked:
            SyncAuditLog(tmp_path, signer=signer, origin=ORIGIN)
        assert locked.value.code == "audit_log_locked"


def test_log_creates_a_private_key_file_and_refuses_a_readable_one(tmp_path: Path) -> None:
    with SyncAuditLog(tmp_path, origin=ORIGIN) as log:
        log.append(entry(0))
    key = tmp_path / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    vkey = (tmp_path / "checkpoint.vkey").read_text()
    verify_log(tmp_path, NoteVerifier.from_vkey(vkey))
    key.chmod(0o644)
    with pytest.raises(AuditError) as insecure:
        SyncAuditLog(tmp_path, origin=ORIGIN)
    assert insecure.value.code == "audit_key_insecure"


def test_log_refuses_to_open_when_entries_contradict_its_checkpoint(
    tmp_path: Path, signer: NoteSigner
) -> None:
    """Never sign past a checkpoint our own entries contradict (LOG-10): fail closed.

    (Opening trusts the hash cache when it agrees with the latest checkpoint; a full replay of
    the entries is `verify_log`'s job, tested in test_tamper.py.)"""
    with SyncAuditLog(tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0) as log:
        for n in range(4):
            log.append(entry(n))
    (segment,) = (tmp_path / "segments").iterdir()
    records = list(read_records(tmp_path))
    altered = AuditRecord(0, records[0].time, entry(0, reason="rewritten")).to_bytes()
    segment.write_bytes(frame(altered) + b"".join(frame(r.to_bytes()) for r in records[1:]))
    for cached in (tmp_path / "tree").iterdir():  # the cache is rebuilt from the entries
        cached.unlink()
    with pytest.raises(AuditError) as refused:
        SyncAuditLog(tmp_path, signer=signer, origin=ORIGIN)
    assert refused.value.code == "audit_root_mismatch"


def test_log_periodic_checkpoints(tmp_path: Path, signer: NoteSigner) -> None:
    async def run() -> None:
        async with AuditLog.open(
            tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0.05
        ) as log:
            await log.append(entry(0))
            for _ in range(200):
                if list((tmp_path / "checkpoints").iterdir()):
                    break
                await asyncio.sleep(0.01)

    asyncio.run(run())
    notes = sorted((tmp_path / "checkpoints").iterdir())
    assert notes, "no checkpoint was signed by the interval"
    assert open_checkpoint(notes[0].read_text(), [signer.verifier()], origin=ORIGIN).size == 1


def test_log_rotates_segments(tmp_path: Path, signer: NoteSigner) -> None:
    with SyncAuditLog(
        tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0, segment_bytes=4096
    ) as log:
        for n in range(60):
            log.append(entry(n))
    segments = sorted((tmp_path / "segments").iterdir())
    assert len(segments) > 2
    assert segments[0].name == f"{0:020d}.seg"
    assert verify_log(tmp_path, signer.verifier()).size == 60


def test_log_prove_survives_a_damaged_hash_cache(tmp_path: Path, signer: NoteSigner) -> None:
    """The tree cache is derived data: a damaged one is rebuilt from the entries for the proof."""
    from zerogate.audit import prove

    with SyncAuditLog(tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0) as log:
        for n in range(20):
            log.append(entry(n))
    level0 = tmp_path / "tree" / "level-00.bin"
    data = bytearray(level0.read_bytes())
    data[8 + 32 * 6] ^= 0xFF  # leaf 6's cached hash
    level0.write_bytes(bytes(data))
    proof = prove(tmp_path, 6, signer.verifier())
    proof.verify(signer.verifier())
    assert proof.record.entry == entry(6)
