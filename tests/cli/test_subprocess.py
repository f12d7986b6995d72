"""The installed `zerogate` console script, run as a real process the way CI runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.cli._cli import EXAMPLES


def _zerogate() -> str:
    beside = Path(sys.executable).parent / "zerogate"
    found = str(beside) if beside.exists() else shutil.which("zerogate")
    assert found, "the zerogate console script is not installed (pip install -e .)"
    return found


@pytest.mark.e2e
def test_console_script_runs_the_example_tests_and_writes_junit(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    done = subprocess.run(
        [_zerogate(), "policy", "test", str(EXAMPLES), "--junit", str(report)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    root = ET.parse(report).getroot()
    assert root.get("failures") == "0"
    assert root.get("errors") == "0"
    assert int(root.get("tests", "0")) == len(root.findall("testsuite/testcase")) > 40
    assert "100.0%" in done.stdout


@pytest.mark.e2e
def test_python_dash_m_reports_a_deny_with_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zerogate.cli", "policy", "explain", str(EXAMPLES),
         "-p", 'User::"ghost"', "-a", "GET", "-r", 'Route::"wiki-web"', "--json", "--context",
         '{"authn": {"mfa": true, "amr": [], "auth_age_s": 1, "idp": "x"},'
         ' "network": {"ip": "10.0.0.1", "tls": true}, "risk": {"score": 0, "signals": []}}'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert '"outcome": "policy_error"' in done.stdout
