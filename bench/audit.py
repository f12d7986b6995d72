"""Audit log: durable appends per second, full verification time, proof times, vs plain JSON lines.

Run: `.venv/bin/python bench/audit.py [--quick] [--out PATH]` (about a minute; `--quick` a few s).

- `append` - `AuditLog.append` from `--appenders` concurrent asyncio tasks, durability on: every
  append returns after the fsync of its batch (group commit). Entries are realistic decision
  entries (~430 bytes), each built, masked-checked and secret-guarded per call.
- `jsonl` - the baseline: the same tasks, the same spool-and-fsync-per-batch in a worker thread,
  but a plain JSON line (`orjson.dumps(entry) + "\\n"`) and no Merkle tree, CRC or checks.
  `ratio` is audit appends/s over baseline appends/s.
- `verify` - `verify_log` over a log of `--verify-n` entries (1,000,000 by default): replays and
  hashes every entry, checks framing, order and shape, each checkpoint root and the consistency of
  consecutive checkpoints. The log is built beforehand through the writer's storage in large
  batches (untimed).
- `prove` - `prove()` as the CLI runs it (opens the checkpoint, reads the entry, loads the tree
  cache, builds and self-verifies the proof), and from an already loaded tree: inclusion proof
  build, inclusion verify, consistency proof build + verify.

All timings are wall clock on this machine; the disk is whatever `--dir` (a temp dir) sits on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from _common import machine_info, stats_of, write_json
from zerogate.audit import (
    AuditEntry,
    AuditLog,
    CompactRange,
    EventKind,
    HashTree,
    NoteSigner,
    Outcome,
    leaf_hash,
    prove,
    verify_consistency,
    verify_inclusion,
    verify_log,
)
from zerogate.audit._storage import Storage  # the bench builds its 1M-entry log directly

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results" / "audit.json"
ORIGIN = "bench.zerogate/audit"
TARGET_APPENDS_PER_S = 20_000
TARGET_VERIFY_1M_S = 10.0


def make_entry(n: int) -> AuditEntry:
    return AuditEntry(
        kind=EventKind.DECISION,
        decision=Outcome.DENY if n % 7 == 0 else Outcome.ALLOW,
        decision_id=f"d-5f2c9a-{n}",
        trace_id=f"{n + 1:032x}",
        principal=f'User::"user{n % 1000}@example.com"',
        resource='Route::"payroll"',
        action="GET",
        policies=("payroll-finance-only",),
        reason="permit payroll-finance-only" if n % 7 else "no permit matched",
        policy_revision="sha256:9c1185a5c5e9fc54612808977ee8f548b2258d31",
        posture_age_s=42.0,
        latency_us=180,
        attrs={"ip": "198.51.100.7", "client_id": "web-app"},
    )


async def _audit_appends(directory: Path, total: int, appenders: int) -> dict[str, Any]:
    signer = NoteSigner.generate(ORIGIN)
    async with AuditLog.open(
        directory, signer=signer, origin=ORIGIN, checkpoint_interval_s=0
    ) as log:
        per = total // appenders

        async def worker(w: int) -> None:
            for i in range(per):
                await log.append(make_entry(w * per + i))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(appenders)))
        elapsed = time.perf_counter() - t0
        stats = log.stats
    return {
        "entries": per * appenders,
        "seconds": elapsed,
        "per_s": per * appenders / elapsed,
        "batches": stats.batches,
        "mean_batch": stats.appended / max(1, stats.batches),
        "fsyncs_per_s": stats.batches / elapsed,
        "high_water": stats.high_water,
    }


class _JsonLines:
    """The baseline: a plain JSON-lines file with the same spool and one fsync per batch."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._pending: list[dict[str, Any]] = []
        self._done: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop())
        self.batches = 0
        self._closing = False

    async def append(self, doc: dict[str, Any]) -> None:
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        self._pending.append(doc)
        done = self._done
        self._wake.set()
        await asyncio.shield(done)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        os.write(self._fd, b"".join(orjson.dumps(d) + b"\n" for d in batch))
        os.fsync(self._fd)

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                if self._closing:
                    return
                continue
            batch, done = self._pending, self._done
            self._pending, self._done = [], None
            await asyncio.to_thread(self._write, batch)
            self.batches += 1
            assert done is not None
            done.set_result(None)

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        await self._task
        os.close(self._fd)


async def _jsonl_appends(directory: Path, total: int, appenders: int) -> dict[str, Any]:
    sink = _JsonLines(directory / "baseline.jsonl")
    per = total // appenders
    now = datetime.now(UTC).isoformat()

    async def worker(w: int) -> None:
        for i in range(per):
            doc = make_entry(w * per + i).fields()
            doc["time"] = now
            await sink.append(doc)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(appenders)))
    elapsed = time.perf_counter() - t0
    await sink.close()
    return {
        "entries": per * appenders,
        "seconds": elapsed,
        "per_s": per * appenders / elapsed,
        "batches": sink.batches,
        "mean_batch": per * appenders / max(1, sink.batches),
    }


def _build(directory: Path, count: int, signer: NoteSigner, checkpoints: int) -> None:
    """`count` entries in batches of 10,000 straight through the storage, `checkpoints` spread."""
    storage = Storage(directory, origin=ORIGIN, signer=signer, segment_bytes=64 * 1024 * 1024)
    storage.open()
    try:
        every = max(1, count // checkpoints)
        batch = [make_entry(n) for n in range(10_000)]
        now = datetime.now(UTC)
        written = 0
        while written < count:
            size = min(len(batch), count - written)
            storage.write_batch(batch[:size], now)
            written += size
            if written % every < size or written == count:
                storage.checkpoint()
    finally:
        storage.close()


def _proofs(directory: Path, signer: NoteSigner, count: int, rounds: int) -> dict[str, Any]:
    key = signer.verifier()
    rng = random.Random(7)
    cold = []
    for _ in range(min(rounds, 20)):
        seq = rng.randrange(count)
        t0 = time.perf_counter_ns()
        proof = prove(directory, seq, key)
        cold.append(time.perf_counter_ns() - t0)
        proof.verify(key)
    tree = HashTree.load(directory / "tree", CompactRange(), limit=count)
    assert tree.size == count
    root = tree.root(count)
    build, check, consistency = [], [], []
    for _ in range(rounds):
        seq = rng.randrange(count)
        t0 = time.perf_counter_ns()
        hashes = tree.inclusion_proof(seq, count)
        t1 = time.perf_counter_ns()
        verify_inclusion(tree.leaf(seq), index=seq, size=count, proof=hashes, root=root)
        t2 = time.perf_counter_ns()
        old = rng.randrange(1, count)
        cproof = tree.consistency_proof(old, count)
        verify_consistency(
            first=old, second=count, first_root=tree.root(old), second_root=root, proof=cproof
        )
        t3 = time.perf_counter_ns()
        build.append(t1 - t0)
        check.append(t2 - t1)
        consistency.append(t3 - t2)
    assert leaf_hash(b"") != root
    return {
        "prove_cold": stats_of(cold).as_dict(),
        "inclusion_build": stats_of(build).as_dict(),
        "inclusion_verify": stats_of(check).as_dict(),
        "consistency_build_verify": stats_of(consistency).as_dict(),
        "proof_hashes": len(hashes),
    }


def run(
    *, quick: bool, appends: int, appenders: int, verify_n: int, keep: Path | None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="zg-audit-bench-", dir=keep))
    try:
        audit = asyncio.run(_audit_appends(work / "append", appends, appenders))
        baseline = asyncio.run(_jsonl_appends(work, appends, appenders))
        signer = NoteSigner.generate(ORIGIN)
        big = work / "verify"
        t0 = time.perf_counter()
        _build(big, verify_n, signer, checkpoints=10)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        verified = verify_log(big, signer.verifier())
        verify_s = time.perf_counter() - t0
        assert verified.size == verify_n
        assert verified.unsigned == 0
        proofs = _proofs(big, signer, verify_n, rounds=200 if quick else 2000)
        disk = sum(p.stat().st_size for p in (big / "segments").iterdir())
        tree_bytes = sum(p.stat().st_size for p in (big / "tree").iterdir())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_million = verify_s * 1_000_000 / verify_n
    return {
        "machine": machine_info("orjson", "cryptography"),
        "parameters": {
            "quick": quick,
            "appends": appends,
            "appenders": appenders,
            "verify_n": verify_n,
            "threads": threading.active_count(),
        },
        "append": {**audit, "ratio_vs_jsonl": audit["per_s"] / baseline["per_s"]},
        "jsonl_baseline": baseline,
        "verify": {
            "entries": verify_n,
            "checkpoints": verified.checkpoints,
            "seconds": verify_s,
            "seconds_per_million": per_million,
            "entries_per_s": verify_n / verify_s,
            "build_seconds": build_s,
            "segment_bytes": disk,
            "tree_cache_bytes": tree_bytes,
        },
        "proofs": proofs,
        "targets": [
            {
                "name": "durable appends per second",
                "target": TARGET_APPENDS_PER_S,
                "measured": round(audit["per_s"]),
                "met": audit["per_s"] >= TARGET_APPENDS_PER_S,
            },
            {
                "name": "verify 1M entries (s)",
                "target": TARGET_VERIFY_1M_S,
                "measured": round(per_million, 2),
                "extrapolated": verify_n != 1_000_000,
                "met": per_million <= TARGET_VERIFY_1M_S,
            },
        ],
    }


def _table(result: dict[str, Any]) -> str:
    a, b, v, p = result["append"], result["jsonl_baseline"], result["verify"], result["proofs"]
    lines = [
        f"appends ({result['parameters']['appenders']} concurrent appenders, fsync per batch):",
        f"  {'':10} {'per s':>10} {'batches':>8} {'mean batch':>11}",
        f"  {'audit':10} {a['per_s']:>10,.0f} {a['batches']:>8} {a['mean_batch']:>11.0f}",
        f"  {'jsonl':10} {b['per_s']:>10,.0f} {b['batches']:>8} {b['mean_batch']:>11.0f}",
        f"  ratio audit/jsonl: {a['ratio_vs_jsonl']:.2f}",
        f"verify: {v['entries']:,} entries, {v['checkpoints']} checkpoints in {v['seconds']:.2f} s "
        f"({v['entries_per_s']:,.0f}/s; {v['seconds_per_million']:.2f} s per million)",
        f"  on disk: {v['segment_bytes'] / 1e6:.0f} MB entries + {v['tree_cache_bytes'] / 1e6:.0f} MB tree cache",
        f"proofs ({p['proof_hashes']} hashes at this size), p50 / p99 us:",
    ]
    for name in ("prove_cold", "inclusion_build", "inclusion_verify", "consistency_build_verify"):
        cell = p[name]
        lines.append(f"  {name:26} {cell['p50_us']:>10.1f} {cell['p99_us']:>10.1f}")
    lines.append("targets:")
    for t in result["targets"]:
        mark = "met" if t["met"] else "NOT met"
        lines.append(f"  {t['name']}: {t['measured']} (target {t['target']}) {mark}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts (smoke test)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    parser.add_argument("--appends", type=int, default=200_000)
    parser.add_argument("--appenders", type=int, default=512)
    parser.add_argument("--verify-n", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="where the temp logs go")
    args = parser.parse_args(argv)
    appends, verify_n = (4_000, 5_000) if args.quick else (args.appends, args.verify_n)
    try:
        result = run(
            quick=args.quick,
            appends=appends,
            appenders=min(args.appenders, appends),
            verify_n=verify_n,
            keep=args.dir,
        )
    except Exception as error:
        print(f"bench failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(_table(result))
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
