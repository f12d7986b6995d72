"""Smoke test for `bench/pdp.py`: it runs, agrees with raw cedarpy, and writes complete JSON.

Timings are never asserted (wall-clock numbers are not test material); only that every cell
exists and holds positive numbers and computed ratios.
"""

from __future__ import annotations

from pathlib import Path

from tests.bench._quick import positive, run_quick

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


def test_quick_bench_writes_every_cell(tmp_path: Path) -> None:
    result = run_quick("pdp.py", tmp_path / "pdp.json")
    assert result["machine"]["packages"]["cedarpy"]
    cells = {(c["policies"], c["mode"]): c for c in result["cells"]}
    assert set(cells) == {(n, m) for n in SIZES for m in MODES}
    for key, cell in cells.items():
        assert cell["iterations"] > 0, key
        bad = [f for f in (*NUMBERS, *RATIOS) if not positive(cell.get(f))]
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
