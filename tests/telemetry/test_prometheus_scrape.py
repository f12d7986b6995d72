"""A real Prometheus (Debian's) scrapes a running `zerogate up` and answers for its metrics:
a request through the gateway shows up as a counted decision, and the shipped rules load."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._up import WAIT_S, Up, eventually, prepare, up_env, zerogate_up
from zerogate.app import free_port

pytestmark = pytest.mark.e2e
PROMETHEUS = shutil.which("prometheus")
RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"


@contextlib.contextmanager
def prometheus(workdir: Path, target: str) -> Iterator[str]:
    """Prometheus on loopback scraping `target` every second; stopped by its PID at the end."""
    assert PROMETHEUS is not None
    config = workdir / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {"job_name": "zerogate", "static_configs": [{"targets": [target]}]}
                ],
            }
        )
    )
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()  # the process this test started, by its handle
        try:
            proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _get(url: str | urllib.request.Request) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # loopback only
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _query(base: str, promql: str) -> list[Any]:
    status, body = _get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    if status != 200:
        return []
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    prepare(tmp_path, "# the demo app is the only route\n")
    with zerogate_up(tmp_path, up_env()) as running:
        yield running


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus missing: scripts/system-deps.sh")
def test_prometheus_scrapes_decisions_from_zerogate_up(up: Up, tmp_path: Path) -> None:
    main_port = int(up.login.rsplit(":", 1)[1])
    # An API call without credentials: the check refuses it (401) and counts the decision.
    request = urllib.request.Request(
        f"http://127.0.0.1:{up.gateway_port}/",
        headers={"Host": "localhost", "Accept": "application/json"},
    )
    status, _ = _get(request)
    assert status == 401, up.lines
    own_status, own = _get(f"http://127.0.0.1:{main_port}/metrics")
    assert own_status == 200
    assert b"zerogate_check_decisions_total{" in own

    (tmp_path / "prom").mkdir()
    with prometheus(tmp_path / "prom", f"127.0.0.1:{main_port}") as base:
        decision = (
            'zerogate_check_decisions_total{job="zerogate",route="wiki-web",'
            'verdict="unauthenticated",reason="no_credentials"}'
        )
        found: list[Any] = []

        def scraped() -> bool:
            found[:] = _query(base, decision)
            return bool(found)

        eventually(scraped, "Prometheus scraped the decision counter")
        assert float(found[0]["value"][1]) > 0
        up_sample = _query(base, 'up{job="zerogate"}')
        assert up_sample
        assert up_sample[0]["value"][1] == "1"
        status, body = _get(f"{base}/api/v1/rules")
        assert status == 200
        names = {r["name"] for g in json.loads(body)["data"]["groups"] for r in g["rules"]}
        assert {"ZerogateDecisionAvailabilityFastBurn", "ZerogateMassDeny"} <= names
