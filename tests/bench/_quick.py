"""Runs a benchmark script with `--quick` as a user would, and hands back its JSON result."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_quick(script: str, out: Path) -> dict[str, Any]:
    """`python bench/SCRIPT --quick --out OUT`: must exit 0 and print its targets section."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "targets" in proc.stdout
    result: dict[str, Any] = json.loads(out.read_text())
    assert result["parameters"]["quick"] is True
    return result


def positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0
