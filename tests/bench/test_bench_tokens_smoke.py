"""Smoke test for `bench/tokens.py`: it runs with --quick and writes complete JSON (no timings)."""

from __future__ import annotations

from pathlib import Path

from tests.bench._quick import positive, run_quick

IMPLS = ("zerogate", "joserfc", "cryptography")
NUMBERS = ("p50_us", "p99_us", "mean_us", "ops_per_s", "ratio_mean_vs_joserfc", "cpu_share")


def test_bench_tokens_quick_writes_every_cell(tmp_path: Path) -> None:
    result = run_quick("tokens.py", tmp_path / "tokens.json")
    assert result["machine"]["packages"]["joserfc"]
    assert result["machine"]["cpu_model"] is not None or result["machine"]["machine"]
    cells = {(c["op"], c["impl"]): c for c in result["cells"]}
    assert set(cells) == {(op, impl) for op in ("issue", "verify") for impl in IMPLS}
    for key, cell in cells.items():
        assert cell["iterations"] > 0, key
        bad = [f for f in NUMBERS if not positive(cell.get(f))]
        assert not bad, (key, bad)
    (target,) = result["targets"]
    assert target["target"] == 3000
    assert isinstance(target["met"], bool)
