"""Smoke test for `bench/pdp.py`: it runs, agrees with raw cedarpy, and writes complete JSON.

Timings are never asserted (wall-clock numbers are not test material); only that every cell
exists and holds positive numbers and computed ratios.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "pdp.py"
SIZES = (1, 100, 1_000, 10_000)
MODES = (
    "cedarpy",
    "cedarpy_batch",
    "zg_uncached",
    "zg_uncached_noexplain",
    "zg_noslice",
    "zg_cached",
    "deny_plain",
    "deny_explain",
)
NUMBERS = ("p50_us", "p99_us", "mean_us", "decisions_per_s")
RATIOS = ("ratio_p50_vs_baseline", "ratio_p99_vs_baseline")


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_quick_bench_writes_every_cell(tmp_path: Path) -> None:
    out = tmp_path / "pdp.json"
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
    assert result["machine"]["packages"]["cedarpy"]
    cells = {(c["policies"], c["mode"]): c for c in result["cells"]}
    assert set(cells) == {(n, m) for n in SIZES for m in MODES}
    for key, cell in cells.items():
        assert cell["iterations"] > 0, key
        bad = [f for f in (*NUMBERS, *RATIOS) if not _positive(cell.get(f))]
        assert not bad, (key, bad)
    for size in result["sizes"]:
        assert size["agreement"]["agree"] is True
        assert size["agreement"]["requests"] > 0
    assert {t["name"] for t in result["targets"]} >= {
        "uncached p50 at 1,000",
        "uncached p99 at 1,000",
        "uncached p99 growth 100 -> 10,000",
        "cached p99 (worst size)",
    }
