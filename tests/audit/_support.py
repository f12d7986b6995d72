"""Helpers for the audit tests: sample entries and a small, fully checkpointed log on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zerogate.audit import AuditEntry, EventKind, NoteSigner, NoteVerifier, Outcome, SyncAuditLog
from zerogate.clock import FixedClock

ORIGIN = "test.zerogate/audit"
TRACE = "0af7651916cd43dd8448eb211c80319c"


def entry(n: int = 0, **overrides: Any) -> AuditEntry:
    """A decision entry numbered `n` (in `decision_id` and `attrs.n`)."""
    fields: dict[str, Any] = {
        "kind": EventKind.DECISION,
        "decision": Outcome.DENY if n % 3 == 0 else Outcome.ALLOW,
        "decision_id": f"dec-{n}",
        "trace_id": TRACE,
        "principal": f'User::"user{n % 5}"',
        "resource": 'Route::"wiki"',
        "action": "GET",
        "policies": ("wiki-readers",),
        "reason": "no matching permit" if n % 3 == 0 else "permitted",
        "policy_revision": "sha256:" + "ab" * 16,
        "posture_age_s": 12.5,
        "latency_us": 180 + n,
        "attrs": {"n": str(n), "ip": "198.51.100.7"},
    }
    fields.update(overrides)
    return AuditEntry(**fields)


def clock() -> FixedClock:
    return FixedClock(at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC))


def build_log(
    directory: Path,
    count: int,
    *,
    signer: NoteSigner,
    checkpoint_every: int = 0,
    segment_bytes: int = 64 * 1024 * 1024,
    tick: FixedClock | None = None,
) -> None:
    """`count` entries, a checkpoint every `checkpoint_every` (and one at the end, on close)."""
    now = tick or clock()
    with SyncAuditLog(
        directory,
        signer=signer,
        clock=now,
        origin=ORIGIN,
        checkpoint_interval_s=0,
        segment_bytes=segment_bytes,
    ) as log:
        for n in range(count):
            assert log.append(entry(n)) == n
            now.advance(1)
            if checkpoint_every and (n + 1) % checkpoint_every == 0:
                log.checkpoint()


def verifier(signer: NoteSigner) -> NoteVerifier:
    return signer.verifier()
