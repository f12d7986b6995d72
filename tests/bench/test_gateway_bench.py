"""Smoke test for `bench/gateway.py`: with --quick it starts nginx, the check services and Envoy,
checks every row refuses and allows as it must, times each row, and writes complete JSON.

Timings are never asserted; only that every row, latency run and revocation probe produced
numbers, and that no timed run saw an error. Needs Debian's `wrk` and `nginx`: skipped without
them on a developer machine, required in CI (scripts/system-deps.sh installs them).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from tests.bench._quick import positive, run_quick

MISSING = [
    tool
    for tool in ("wrk", "nginx")
    if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None
]
if MISSING and not os.environ.get("CI"):
    pytest.skip(
        f"Debian's {' and '.join(MISSING)} not installed (bash scripts/system-deps.sh)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.e2e
ROWS = {"A", "B", "C", "C-grpc", "C-local", "C-nosc", "D", "F"}
BEHIND_ENVOY_AND_CHECK = {"C", "C-grpc", "C-local", "C-nosc", "D"}
REVOCATIONS = {"events", "ttl", "no_session_cache", "local", "replicas"}


def test_gateway_bench_quick_measures_every_row(tmp_path: Path) -> None:
    assert not MISSING, f"{MISSING} missing: CI installs them (scripts/system-deps.sh)"
    result = run_quick("gateway.py", tmp_path / "gateway.json")

    assert set(result["machine"]["tools"]) == {"wrk", "nginx", "envoy"}
    rows = {r["key"]: r for r in result["rows"]}
    assert set(rows) == ROWS
    for key, row in rows.items():
        assert row["n"] >= 1, key
        for run in row["runs"]:
            assert not any(run["errors"].values()), (key, run["errors"])
        numbers = [row["rps_median"], row["ratio_vs_envoy"], row["total_cpu_us_per_req"]]
        numbers += [row["unloaded"]["p50_ms"], row["unloaded"]["p99_ms"], row["unloaded"]["rps"]]
        assert all(positive(n) for n in numbers), (key, numbers)
    assert rows["B"]["ratio_vs_envoy"] == 1.0
    for key in BEHIND_ENVOY_AND_CHECK:
        assert math.isfinite(rows[key]["added_p50_ms"]), key
        assert "check" in rows[key]["cpu_us_per_req"], key
    assert {k for k, r in rows.items() if "paced" in r} == {"B", "C", "C-grpc", "C-local"}
    assert math.isfinite(rows["C"]["paced"]["added_p99_ms"])

    verified = "\n".join(result["verified"])
    for key in (*BEHIND_ENVOY_AND_CHECK, "F"):
        assert f"{key}: without the cookie" in verified
        assert f"{key}: the upstream saw x-zerogate-user" in verified
        assert f"{key}: the upstream got a signed assertion" in verified
    for key, counters in result["authz_connections"].items():
        assert counters["upstream_rq_total"] > 0, key

    revocations = {r["key"]: r for r in result["revocation"]}
    assert set(revocations) == REVOCATIONS
    for key, found in revocations.items():
        assert found["n"] >= 1, key
        assert positive(found["p99_ms"]), key
    assert len(result["targets"]) == 13
    assert all(isinstance(t["met"], bool) for t in result["targets"])
