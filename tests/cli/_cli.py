"""Helpers for driving the `zerogate` CLI in-process, the way a user types it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from zerogate.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"

CONTEXT: dict[str, Any] = {
    "authn": {"mfa": True, "amr": ["pwd", "otp"], "auth_age_s": 60, "idp": "zerogate"},
    "network": {"ip": "198.51.100.7", "tls": True},
    "risk": {"score": 5, "signals": []},
}


def run(*args: str | Path) -> Result:
    """`zerogate ARGS...` in-process; wide terminal so lines are never wrapped mid-assertion."""
    runner = CliRunner()
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})


def run_json(*args: str | Path) -> tuple[int, Any]:
    result = run(*args)
    return result.exit_code, json.loads(result.stdout)


def copy_examples(tmp_path: Path, *, tests: bool = True) -> Path:
    """A private copy of the example bundle, safe to edit."""
    target = tmp_path / "bundle"
    shutil.copytree(EXAMPLES, target)
    if not tests:
        shutil.rmtree(target / "tests")
    return target


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
