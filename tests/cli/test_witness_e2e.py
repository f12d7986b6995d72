"""End to end: `zerogate witness serve` as a real process on loopback, a real audit log that
appends and checkpoints, the app-layer task that submits its checkpoints, then
`zerogate audit verify --witness` passing, and alarming once the host rewrites its history
(which the witness refuses, keeping the evidence, across a restart of the witness)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.audit._support import ORIGIN, build_log, clock, entry
from tests.cli._cli import run_json
from zerogate.app import free_port
from zerogate.app._audit_service import audit_service
from zerogate.app._witnessing import witnessing
from zerogate.audit import WITNESSED_DIR, WitnessState, load_or_create_signer
from zerogate.clock import FixedClock
from zerogate.config import Settings, load_settings

W1 = "witness.test/w1"
_START_S = 30.0


@contextmanager
def witness_server(tmp_path: Path, key: Path, log_vkey: str, state: Path) -> Iterator[str]:
    """`zerogate witness serve` in a child process; stopped by its PID when the block ends."""
    port = free_port()
    out = (tmp_path / f"witness-{port}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "zerogate.cli", "witness", "serve", "--key", str(key),
         "--log", f"{ORIGIN}={log_vkey}", "--state", str(state), "--port", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_S
        while True:
            assert proc.poll() is None, (tmp_path / f"witness-{port}.log").read_text()
            try:
                if httpx.post(f"{url}/add-checkpoint", content=b"").status_code == 400:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the witness did not start"
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def _settings(tmp_path: Path, audit_dir: Path, url: str, vkey: str) -> Settings:
    config = tmp_path / "zerogate.toml"
    config.write_text(
        f"""data_dir = "{tmp_path / "data"}"
[audit]
dir = "{audit_dir}"
origin = "{ORIGIN}"
checkpoint_interval_s = 0
witnesses = [{{ url = "{url}", vkey = "{vkey}" }}]
""",
        encoding="utf-8",
    )
    return load_settings(config, environ={})


async def _append_and_witness(settings: Settings, count: int, *, refusals: int = 0) -> int:
    """Open the log as `zerogate up` does, append, checkpoint, and wait for the witnessing
    task: until the checkpoint is cosigned, or until the witness refused `refusals` times."""
    loop = asyncio.get_running_loop()
    async with (
        audit_service(settings, clock=clock()) as audit,
        witnessing(settings, audit, poll_s=0.05) as runner,
    ):
        assert runner is not None
        for n in range(count):
            await audit.append(entry(n))
        await audit.checkpoint()
        deadline = loop.time() + _START_S
        while (
            runner.stats.refusals < refusals
            if refusals
            else runner.stats.witnessed_size != audit.size
        ):
            assert loop.time() < deadline, runner.stats
            await asyncio.sleep(0.05)
        return audit.size


def _rewrite(audit_dir: Path, forged: Path) -> None:
    """What a compromised host can do with the log's own key: a new history, re-signed."""
    for part in ("segments", "checkpoints", "tree"):
        shutil.rmtree(audit_dir / part)
        shutil.copytree(forged / part, audit_dir / part)


@pytest.mark.e2e
def test_witness_e2e_verify_passes_then_alarms_on_a_rewritten_history(tmp_path: Path) -> None:
    key = tmp_path / "witness.key"
    code, doc = run_json("witness", "init", "--name", W1, "--key", key, "--json")
    assert code == 0
    witness_vkey = doc["vkey"]
    audit_dir = tmp_path / "audit"
    log_signer = load_or_create_signer(audit_dir, ORIGIN)  # what `zerogate up` creates
    log_vkey = log_signer.verifier().vkey
    state = tmp_path / "witness-state"
    verify = ("audit", "verify", "--dir", audit_dir, "--key", log_vkey, "--json")

    with witness_server(tmp_path, key, log_vkey, state) as url:
        settings = _settings(tmp_path, audit_dir, url, witness_vkey)
        assert asyncio.run(_append_and_witness(settings, 10)) == 10
        assert asyncio.run(_append_and_witness(settings, 5)) == 15  # a restart of the log

    code, doc = run_json(*verify, "--witness", witness_vkey)
    assert code == 0, doc
    assert doc["witnessed"] == {
        "size": 15,
        "cosigners": [W1],
        "times": doc["witnessed"]["times"],
        "unwitnessed": 0,
    }
    assert WitnessState(state).evidence(ORIGIN) == []

    # The host rewrites its history, re-signed with the log's key, and keeps logging.
    forged = tmp_path / "forged"
    build_log(forged, 15, signer=log_signer, tick=FixedClock(at=datetime(2027, 1, 1, tzinfo=UTC)))
    _rewrite(audit_dir, forged)
    # A restarted witness remembers what it cosigned, and refuses the new history.
    with witness_server(tmp_path, key, log_vkey, state) as url:
        settings = _settings(tmp_path, audit_dir, url, witness_vkey)
        asyncio.run(_append_and_witness(settings, 3, refusals=1))
    # Kept as evidence: the forged 15 (a fork) or the forged 18 (no proof from the real 15).
    evidence = WitnessState(state).evidence(ORIGIN)
    assert evidence
    assert all("-15-fork-" in p.name or "-18-unproven-" in p.name for p in evidence)
    assert all(log_vkey.split("+")[0] in p.read_text() for p in evidence)

    code, doc = run_json(*verify)
    assert code == 0  # the log's own key vouches for the rewrite
    code, doc = run_json(*verify, "--witness", witness_vkey)
    assert code == 1
    assert doc["code"] == "audit_fork"
    # Removing the cosigned checkpoints from the host leaves no anchor: also an alarm.
    shutil.rmtree(audit_dir / WITNESSED_DIR)
    code, doc = run_json(*verify, "--witness", witness_vkey)
    assert code == 1
    assert doc["code"] == "audit_not_witnessed"
