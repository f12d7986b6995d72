"""The log's side of witnessing against a real witness (the Starlette app over httpx's ASGI
transport, and a real refused TCP connection): submissions, 409 learning, restarts, refusals as
alarms with back-off, answers by the wrong key, quorum, and the witness's HTTP answers."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audit._support import ORIGIN, build_log, clock, entry
from tests.audit.test_log import synced
from zerogate.app import free_port
from zerogate.app._witnessing import witness_app
from zerogate.audit import (
    SIZE_MEDIA_TYPE,
    WITNESSED_DIR,
    AddCheckpoint,
    AuditLog,
    CosignatureSigner,
    NoteSigner,
    SyncAuditLog,
    Witness,
    WitnessClient,
    Witnessing,
    WitnessState,
    latest_witnessed,
)
from zerogate.clock import FixedClock

W1 = "witness.test/w1"


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture
def wkey() -> CosignatureSigner:
    return CosignatureSigner.generate(W1)


@pytest.fixture
def witness(tmp_path: Path, wkey: CosignatureSigner, log_signer: NoteSigner) -> Witness:
    state = WitnessState(tmp_path / "witness-state")
    return Witness(wkey, {ORIGIN: [log_signer.verifier()]}, state, clock=FixedClock())


@asynccontextmanager
async def http_to(witness: Witness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=witness_app(witness))
    async with httpx.AsyncClient(transport=transport, base_url="http://witness.test") as http:
        yield http


def runner(
    audit_dir: Path, log_signer: NoteSigner, clients: list[WitnessClient], **options: Any
) -> Witnessing:
    return Witnessing(
        audit_dir, log_signer.verifier(), clients, origin=ORIGIN, clock=FixedClock(), **options
    )


def grow(audit_dir: Path, log_signer: NoteSigner, count: int) -> None:
    """`count` more entries and a checkpoint (reopening the log, as a restart would)."""
    with SyncAuditLog(
        audit_dir, signer=log_signer, clock=clock(), origin=ORIGIN, checkpoint_interval_s=0
    ) as log:
        for n in range(count):
            log.append(entry(n))


@synced
async def test_witnessing_submits_each_new_checkpoint_and_keeps_the_cosignature(
    tmp_path: Path, witness: Witness, wkey: CosignatureSigner, log_signer: NoteSigner
) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 8, signer=log_signer, checkpoint_every=4)
    async with http_to(witness) as http:
        client = WitnessClient("http://witness.test/", wkey.verifier(), http=http)
        witnessing = runner(audit_dir, log_signer, [client])
        assert await witnessing.round() == 1
        found = latest_witnessed(audit_dir, log_signer.verifier(), [wkey.verifier()], origin=ORIGIN)
        assert found is not None
        assert found.cosigned.checkpoint.size == 8
        assert found.cosigned.cosigners == (W1,)
        assert await witnessing.round() == 0  # nothing new: nothing sent
        grow(audit_dir, log_signer, 5)
        assert await witnessing.round() == 1  # a consistency proof from 8 to 13
        stats = witnessing.stats
        assert (stats.submitted, stats.cosigned, stats.conflicts, stats.failures) == (2, 2, 0, 0)
        assert stats.witnessed_size == 13
        assert stats.witnesses[W1].size == 13
    assert witness.check_state() == {ORIGIN: 13}
    names = sorted(p.name for p in (audit_dir / WITNESSED_DIR).iterdir())
    assert names == [f"{8:020d}.note", f"{13:020d}.note"]


@synced
async def test_witnessing_learns_the_witness_size_from_a_409(
    tmp_path: Path, witness: Witness, wkey: CosignatureSigner, log_signer: NoteSigner
) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 4, signer=log_signer)
    note = (audit_dir / "checkpoints" / f"{4:020d}.note").read_text()
    witness.add_checkpoint(AddCheckpoint(0, (), note).encode())  # cosigned by someone else
    grow(audit_dir, log_signer, 6)
    async with http_to(witness) as http:
        witnessing = runner(
            audit_dir,
            log_signer,
            [WitnessClient("http://witness.test", wkey.verifier(), http=http)],
        )
        assert await witnessing.round() == 1
    assert witnessing.stats.conflicts == 1  # old 0 -> 409 "4" -> old 4 with a proof
    assert witness.check_state() == {ORIGIN: 10}


@synced
async def test_witnessing_after_a_restart_starts_from_the_kept_cosignatures(
    tmp_path: Path, witness: Witness, wkey: CosignatureSigner, log_signer: NoteSigner
) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 5, signer=log_signer)
    async with http_to(witness) as http:
        client = WitnessClient("http://witness.test", wkey.verifier(), http=http)
        assert await runner(audit_dir, log_signer, [client]).round() == 1
        grow(audit_dir, log_signer, 3)
        restarted = runner(audit_dir, log_signer, [client])
        await restarted.learn()
        assert restarted.stats.witnesses[W1].size == 5
        assert await restarted.round() == 1
    assert restarted.stats.conflicts == 0


@synced
async def test_witnessing_a_rewritten_log_is_refused_alarmed_and_backed_off(
    tmp_path: Path, witness: Witness, wkey: CosignatureSigner, log_signer: NoteSigner
) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 6, signer=log_signer)
    async with http_to(witness) as http:
        client = WitnessClient("http://witness.test", wkey.verifier(), http=http)
        assert await runner(audit_dir, log_signer, [client]).round() == 1
        # The host rewrites its history with the same key and the same size.
        forged = tmp_path / "forged"
        build_log(
            forged, 6, signer=log_signer, tick=FixedClock(at=datetime(2027, 1, 1, tzinfo=UTC))
        )
        for part in ("segments", "checkpoints", "tree"):
            shutil.rmtree(audit_dir / part)
            shutil.copytree(forged / part, audit_dir / part)
        now = FixedClock()
        witnessing = Witnessing(
            audit_dir, log_signer.verifier(), [client], origin=ORIGIN, clock=now, backoff_s=2.0
        )
        await witnessing.learn()
        assert await witnessing.round() == 0
        status = witnessing.stats.witnesses[W1]
        assert witnessing.stats.refusals == 1
        assert (status.failures, status.size) == (1, 6)
        assert "409" in status.last_error
        assert await witnessing.round() == 0
        assert witnessing.stats.submitted == 1  # backing off: not sent again yet
        now.advance(2.5)
        assert await witnessing.round() == 0
        assert witnessing.stats.submitted == 2
        assert status.failures == 2
    assert len(witness.state.evidence(ORIGIN)) == 1  # the forged checkpoint, kept


@synced
async def test_witnessing_an_unreachable_witness_never_stops_the_log(
    tmp_path: Path, log_signer: NoteSigner, wkey: CosignatureSigner
) -> None:
    audit_dir = tmp_path / "audit"
    async with (
        httpx.AsyncClient(timeout=5) as http,
        AuditLog.open(
            audit_dir, signer=log_signer, clock=clock(), origin=ORIGIN, checkpoint_interval_s=0
        ) as log,
    ):
        nobody = WitnessClient(f"http://127.0.0.1:{free_port()}", wkey.verifier(), http=http)
        witnessing = runner(audit_dir, log_signer, [nobody])
        for n in range(3):
            await log.append(entry(n))
            await log.checkpoint()
            assert await witnessing.round() == 0
            nobody_status = witnessing.stats.witnesses[W1]
            nobody_status.retry_at = 0.0  # try again at once, for the test
        assert log.size == 3
        assert witnessing.stats.failures == 3
        assert witnessing.stats.witnessed_size == -1
    assert not (audit_dir / WITNESSED_DIR).exists()


@synced
async def test_witnessing_refuses_an_answer_by_another_key(
    tmp_path: Path, witness: Witness, log_signer: NoteSigner
) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 3, signer=log_signer)
    pinned = CosignatureSigner.generate(W1)  # the same name, not the witness's key
    async with http_to(witness) as http:
        witnessing = runner(
            audit_dir,
            log_signer,
            [WitnessClient("http://witness.test", pinned.verifier(), http=http)],
        )
        assert await witnessing.round() == 0
    status = witnessing.stats.witnesses[W1]
    assert "answer does not verify" in status.last_error
    assert not (audit_dir / WITNESSED_DIR).exists()


@synced
async def test_witnessing_quorum_counts_cosigning_witnesses(
    tmp_path: Path, witness: Witness, wkey: CosignatureSigner, log_signer: NoteSigner
) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 3, signer=log_signer)
    other = CosignatureSigner.generate("witness.test/w2")
    async with http_to(witness) as http, httpx.AsyncClient(timeout=5) as real:
        good = WitnessClient("http://witness.test", wkey.verifier(), http=http)
        down = WitnessClient(f"http://127.0.0.1:{free_port()}", other.verifier(), http=real)
        everyone = runner(audit_dir, log_signer, [good, down])
        assert await everyone.round() == 1
        assert everyone.stats.witnessed_size == -1  # default quorum: all of them
        one = runner(audit_dir, log_signer, [good, down], quorum=1)
        await one.learn()
        await one.round()
        assert one.stats.witnessed_size == 3
    both = [wkey.verifier(), other.verifier()]
    assert latest_witnessed(audit_dir, log_signer.verifier(), both, origin=ORIGIN) is None
    found = latest_witnessed(audit_dir, log_signer.verifier(), both, origin=ORIGIN, quorum=1)
    assert found is not None
    assert found.cosigned.cosigners == (W1,)


@synced
async def test_witness_http_answers(
    tmp_path: Path, witness: Witness, log_signer: NoteSigner
) -> None:
    audit_dir = tmp_path / "audit"
    build_log(audit_dir, 4, signer=log_signer)
    note = (audit_dir / "checkpoints" / f"{4:020d}.note").read_text()
    stranger = NoteSigner.generate("stranger.test/log")
    async with http_to(witness) as http:

        async def post(body: bytes) -> httpx.Response:
            return await http.post("/add-checkpoint", content=body)

        ok = await post(AddCheckpoint(0, (), note).encode())
        assert ok.status_code == 200
        assert ok.text.startswith(f"\u2014 {W1} ")
        conflict = await post(AddCheckpoint(0, (), note).encode())
        assert conflict.status_code == 409
        assert conflict.headers["content-type"] == SIZE_MEDIA_TYPE
        assert conflict.text == "4\n"
        assert (await post(AddCheckpoint(5, (), note).encode())).status_code == 400
        assert (
            await post(b"old 0\n\n" + note.replace(ORIGIN, "nobody/log").encode())
        ).status_code == 404
        forged = note.replace(ORIGIN, "stranger.test/log").split("\n\n")[0] + "\n"
        foreign = forged + "\n" + stranger.signature_line(forged)
        assert (await post(b"old 0\n\n" + foreign.encode())).status_code == 404
        bad_sig = note.replace("\n4\n", "\n5\n")
        assert (await post(AddCheckpoint(4, (), bad_sig).encode())).status_code == 403
        assert (await post(b"old 4\n" + b"A" * (300 * 1024))).status_code == 413
        assert (await http.get("/add-checkpoint")).status_code == 405
