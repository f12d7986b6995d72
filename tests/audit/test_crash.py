"""A `kill -9` in the middle of a load loses no acknowledged entry, and the log still verifies.

A real child process appends from 32 concurrent tasks (with checkpoints every 50 ms and small
segments, so the kill can land in a rotation or a checkpoint write too) and prints each seq only
after its `append` returned. The parent kills it with SIGKILL, reopens the log (which repairs a
torn tail) and checks that every acknowledged entry is there with its own content.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.audit._support import ORIGIN, entry
from zerogate.audit import NoteSigner, SyncAuditLog, read_records, verify_log

ROOT = Path(__file__).resolve().parents[2]


def _acks_until_killed(directory: Path, signer: NoteSigner, *, want: int) -> dict[int, int]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.audit._crash_child", str(directory), signer.skey],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    data = bytearray()
    try:
        selector = selectors.DefaultSelector()
        selector.register(child.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while data.count(b"\n") < want and time.monotonic() < deadline:
            if not selector.select(timeout=1):
                continue
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                break  # the child ended on its own: its stderr says why
            data += chunk
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        rest, err = child.communicate(timeout=30)
    data += rest
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    acks = {}
    for line in data.decode().splitlines():
        seq, n = line.split()
        acks[int(seq)] = int(n)
    assert len(acks) >= want, f"only {len(acks)} acknowledged before the deadline"
    return acks


@pytest.mark.parametrize("round_", [1, 2])
def test_crash_kill_9_loses_no_acknowledged_entry(tmp_path: Path, round_: int) -> None:
    signer = NoteSigner.generate(ORIGIN)
    directory = tmp_path / "audit"
    acked: dict[int, int] = {}
    for _ in range(round_):  # the second round crashes a log that was recovered once already
        acked.update(_acks_until_killed(directory, signer, want=3000))
    with SyncAuditLog(directory, signer=signer, origin=ORIGIN, checkpoint_interval_s=0) as log:
        size = log.size
    stored = {r.seq: r for r in read_records(directory)}
    assert len(stored) == size >= len(acked)
    missing = [seq for seq in acked if seq not in stored]
    assert not missing, f"{len(missing)} acknowledged entries lost, e.g. {missing[:5]}"
    for seq, n in acked.items():
        assert stored[seq].entry == entry(n), seq
    result = verify_log(directory, signer.verifier())
    assert result.size == size
    assert result.unsigned == 0
    assert result.torn_tail_bytes == 0
