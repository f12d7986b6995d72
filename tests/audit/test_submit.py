"""`AuditLog.submit`: the non-blocking append the check uses — queued at once, durable with the
next group commit, and refused (not waited for) when the spool is full."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.audit._support import ORIGIN, clock, entry
from tests.audit.test_log import synced
from zerogate.audit import AuditError, AuditLog, NoteSigner, read_records, verify_log


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@synced
async def test_submitted_entries_become_durable_in_order(
    tmp_path: Path, signer: NoteSigner
) -> None:
    async with AuditLog.open(
        tmp_path, signer=signer, clock=clock(), origin=ORIGIN, checkpoint_interval_s=0
    ) as log:
        futures = [log.submit(entry(n)) for n in range(300)]  # no await in between: one spool
        assert not any(f.done() for f in futures)  # nothing is on disk yet
        seqs = await asyncio.gather(*futures)
        assert seqs == list(range(300))
        assert log.stats.batches < 300  # shared fsyncs
    stored = list(read_records(tmp_path))
    assert [r.entry for r in stored] == [entry(n) for n in range(300)]
    verify_log(tmp_path, signer.verifier())


@synced
async def test_a_full_spool_is_refused_at_once(tmp_path: Path, signer: NoteSigner) -> None:
    async with AuditLog.open(
        tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0, max_pending=8
    ) as log:
        queued = [log.submit(entry(n)) for n in range(8)]
        with pytest.raises(AuditError) as full:
            log.submit(entry(8))
        assert full.value.code == "audit_spool_full"
        assert await asyncio.gather(*queued) == list(range(8))
        assert await log.submit(entry(9)) == 8  # room again once written
        assert log.stats.dropped == 0


@synced
async def test_drop_mode_counts_and_never_blocks(tmp_path: Path, signer: NoteSigner) -> None:
    async with AuditLog.open(
        tmp_path,
        signer=signer,
        origin=ORIGIN,
        checkpoint_interval_s=0,
        max_pending=2,
        drop_when_full=True,
    ) as log:
        results = await asyncio.gather(*(log.submit(entry(n)) for n in range(5)))
    assert results == [0, 1, -1, -1, -1]
    assert log.stats.dropped == 3


@synced
async def test_secrets_and_a_closed_log_are_refused(tmp_path: Path, signer: NoteSigner) -> None:
    log = await AuditLog.open(tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0)
    with pytest.raises(AuditError) as secret:
        log.submit(entry(0, reason="Bearer abcdefgh12345678"))
    assert secret.value.code == "audit_secret_refused"
    await log.close()
    with pytest.raises(AuditError) as closed:
        log.submit(entry(1))
    assert closed.value.code == "audit_closed"


@synced
async def test_closing_right_after_a_submit_writes_it_and_returns(
    tmp_path: Path, signer: NoteSigner
) -> None:
    """The writer had not run yet when close() woke it: the close must still be seen."""
    log = await AuditLog.open(tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0)
    written = log.submit(entry(0))
    await asyncio.wait_for(log.close(), timeout=30)
    assert await written == 0
    assert [r.seq for r in read_records(tmp_path)] == [0]


@pytest.mark.parametrize(("delay", "batches"), [(0.0, 2), (5.0, 1)])
@synced
async def test_a_small_batch_waits_the_commit_delay_for_company(
    tmp_path: Path, signer: NoteSigner, delay: float, batches: int
) -> None:
    """Without a delay the writer takes the first entry alone as soon as it runs; with one, the
    entries that arrive meanwhile share its fsync (a full spool or a close never waits)."""
    async with AuditLog.open(
        tmp_path, signer=signer, origin=ORIGIN, checkpoint_interval_s=0, commit_delay_s=delay
    ) as log:
        first = log.submit(entry(0))
        for _ in range(3):
            await asyncio.sleep(0)  # the writer wakes up
        second = log.submit(entry(1))
        if delay:
            assert not first.done()
            await log.close()  # a close cuts the wait short
        assert await asyncio.gather(first, second) == [0, 1]
        assert log.stats.batches == batches
