"""Smoke test for `bench/tokens.py`: it runs with --quick and writes complete JSON (no timings)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "tokens.py"
IMPLS = ("zerogate", "joserfc", "cryptography")
NUMBERS = ("p50_us", "p99_us", "mean_us", "ops_per_s", "ratio_mean_vs_joserfc", "cpu_share")


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_bench_tokens_quick_writes_every_cell(tmp_path: Path) -> None:
    out = tmp_path / "tokens.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "targets" in proc.stdout

    result = json.loads(out.read_text())
    assert result["parameters"]["quick"] is True
    assert result["machine"]["packages"]["joserfc"]
    assert result["machine"]["cpu_model"] is not None or result["machine"]["machine"]
    cells = {(c["op"], c["impl"]): c for c in result["cells"]}
    assert set(cells) == {(op, impl) for op in ("issue", "verify") for impl in IMPLS}
    for key, cell in cells.items():
        assert cell["iterations"] > 0, key
        bad = [f for f in NUMBERS if not _positive(cell.get(f))]
        assert not bad, (key, bad)
    (target,) = result["targets"]
    assert target["target"] == 3000
    assert isinstance(target["met"], bool)
