"""Smoke test for `bench/audit.py`: with --quick it appends, verifies and proves, and writes
complete JSON. Timings are never asserted; only that every number is there and makes sense."""

from __future__ import annotations

from pathlib import Path

from tests.bench._quick import positive, run_quick


def test_audit_bench_quick_measures_every_number(tmp_path: Path) -> None:
    result = run_quick("audit.py", tmp_path / "audit.json")
    append, baseline, verify = result["append"], result["jsonl_baseline"], result["verify"]
    assert append["entries"] == baseline["entries"] > 0
    for cell in (append, baseline):
        assert positive(cell["per_s"])
        assert cell["batches"] < cell["entries"]  # group commit: fsyncs are shared
    assert append["high_water"] <= 10_000
    assert positive(append["ratio_vs_jsonl"])
    assert verify["entries"] == result["parameters"]["verify_n"]
    assert verify["checkpoints"] >= 1
    assert positive(verify["seconds"])
    assert positive(verify["seconds_per_million"])
    for name in ("prove_cold", "inclusion_build", "inclusion_verify", "consistency_build_verify"):
        assert positive(result["proofs"][name]["p50_us"]), name
    assert [t["name"] for t in result["targets"]] == [
        "durable appends per second",
        "verify 1M entries (s)",
    ]
    assert all(isinstance(t["met"], bool) for t in result["targets"])
