"""The Grafana dashboards in deploy/grafana: well-formed models, only metrics Zerogate declares,
and every panel's PromQL answered by a real Prometheus (Debian's) loaded with the shipped rules
and scraping a running `zerogate up` — the core panels with data after a few requests."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests._up import WAIT_S, Up, eventually, prepare, up_env, zerogate_up
from tests.telemetry._promql import (
    BUILTIN,
    DASHBOARDS,
    ROOT,
    dashboards,
    exported_names,
    fill_in,
    is_prometheus,
    metric_names,
    panels,
    queries,
    recorded_names,
    rule_exprs,
)
from tests.telemetry.test_prometheus_scrape import _get, prometheus

PROMETHEUS = shutil.which("prometheus")
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
UIDS = {
    "zerogate-executive.json": "zerogate-executive",
    "zerogate-oncall.json": "zerogate-oncall",
    "zerogate-debug.json": "zerogate-debug",
}
# Panels that must show data once a few requests went through (title per dashboard).
CORE = {
    ("zerogate-executive.json", "Decision availability"),
    ("zerogate-executive.json", "Decisions per second"),
    ("zerogate-oncall.json", "Denies by route and reason"),
    ("zerogate-oncall.json", "Check latency p95 by route"),
    ("zerogate-oncall.json", "Token requests refused"),
    ("zerogate-oncall.json", "Decisions Envoy took alone"),
    ("zerogate-oncall.json", "Audit log"),
    ("zerogate-oncall.json", "Policy revision per instance"),
    ("zerogate-debug.json", "Decisions by verdict and reason"),
    ("zerogate-debug.json", "PDP: evaluated or cached"),
}


# (a) the models


def test_dashboards_are_the_three_with_stable_uids_and_the_required_fields() -> None:
    boards = dashboards()
    assert {name: b["uid"] for name, b in boards.items()} == UIDS
    for name, board in boards.items():
        for key in ("title", "description", "panels", "templating", "time", "schemaVersion"):
            assert board.get(key), (name, key)
        assert board["schemaVersion"] >= 39, name  # Grafana 11 and later
        assert "zerogate" in board["tags"]
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        for panel in panels(board):
            where = (name, panel["title"])
            assert panel["type"], where
            grid = panel["gridPos"]
            assert grid["x"] >= 0, where
            assert 0 < grid["w"] <= 24 - grid["x"], where
            if panel["type"] in ("row", "text"):
                continue
            assert panel["description"], where
            refs = [t["refId"] for t in panel["targets"]]
            assert refs, where
            assert len(refs) == len(set(refs)), where
            source = panel["datasource"]
            # Never a hard-wired datasource: the one chosen in the variable (or on import).
            assert source["uid"] in ("${datasource}", "${tracing}"), where
            for target in panel["targets"]:
                if is_prometheus(target.get("datasource", source)):
                    assert target["expr"].strip(), where


def test_the_debug_dashboard_finds_a_request_by_decision_id_and_trace_id() -> None:
    board = dashboards()["zerogate-debug.json"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["decision_id"]["type"] == "textbox"
    assert variables["trace_id"]["type"] == "textbox"
    assert variables["tracing"]["type"] == "datasource"
    by_type = {p["type"]: p for p in panels(board)}
    trace = by_type["traces"]
    assert trace["datasource"]["uid"] == "${tracing}"
    assert trace["targets"][0]["query"] == "${trace_id}"
    guide = by_type["text"]["options"]["content"]
    assert "zerogate audit search --decision-id ${decision_id}" in guide
    assert "--trace-id ${trace_id}" in guide


def test_grafana_provisioning_names_prometheus_and_the_dashboards() -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "zerogate.yaml").read_text())
    types = {s["type"] for s in sources["datasources"]}
    assert {"prometheus", "tempo"} <= types
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "zerogate.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]


# (b) only declared metrics


def test_promql_names_are_read_from_expressions() -> None:
    expr = (
        '1 - (sum(increase(a_total{verdict="error", x=~"y|z"}[$__range])) or vector(0))'
        " / sum by (le, route) (rate(b_bucket[5m] offset 2m)) > bool 0.5 unless c:rule"
    )
    assert metric_names(expr) == {"a_total", "b_bucket", "c:rule"}
    assert fill_in('rate(x[$__rate_interval]) and y{route=~"${route}"}') == (
        'rate(x[1m]) and y{route=~".*"}'
    )


def test_every_metric_in_a_dashboard_or_rule_is_declared_by_zerogate() -> None:
    declared = exported_names() | recorded_names() | BUILTIN
    used = {f"{q.dashboard}: {q.title}": metric_names(q.expr) for q in queries()}
    used |= {f"rules.yml: {name}": metric_names(expr) for name, expr in rule_exprs().items()}
    for board in dashboards().values():
        for variable in board["templating"]["list"]:
            definition = variable.get("definition", "")
            if definition.startswith("label_values("):
                used[f"variable {variable['name']}"] = {definition[13:].split(",")[0].strip()}
    unknown = {where: names - declared for where, names in used.items() if names - declared}
    assert not unknown
    assert len(used) > 50  # the parse found the expressions


# (c) a real Prometheus answers every panel


def _query(base: str, expr: str) -> dict[str, Any]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    _, body = _get(url)
    return dict(json.loads(body)) if body else {}  # {}: not listening yet


def _requests(up: Up) -> None:
    """A few requests of each kind: refused without credentials, a browser sent to sign in,
    a token request the issuer refuses."""
    for accept in ("application/json", "application/json", "text/html"):
        request = urllib.request.Request(
            f"http://127.0.0.1:{up.gateway_port}/", headers={"Host": "localhost", "Accept": accept}
        )
        status, _ = _get(request)
        # An API call gets a challenge; a browser the sign-in hand-off page.
        assert status == (401 if accept == "application/json" else 200), up.lines
    form = urllib.parse.urlencode(
        {"grant_type": "refresh_token", "refresh_token": "nope", "client_id": "nobody"}
    ).encode()
    token = urllib.request.Request(f"{up.login}/token", data=form, method="POST")
    status, _ = _get(token)
    assert 400 <= status < 500  # refused: the client is unknown


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    workdir = tmp_path_factory.mktemp("up")
    prepare(workdir, "# the demo app is the only route\n")
    with zerogate_up(workdir, up_env()) as running:
        _requests(running)
        yield running


@pytest.fixture(scope="module")
def prometheus_url(up: Up, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    main_port = int(up.login.rsplit(":", 1)[1])
    with prometheus(tmp_path_factory.mktemp("prom"), f"127.0.0.1:{main_port}") as base:
        # Rates need two scrapes, recording rules an evaluation after them.
        def ready() -> bool:
            answer = _query(base, "zerogate:decisions:rate5m")
            return answer.get("status") == "success" and bool(answer["data"]["result"])

        eventually(ready, "Prometheus scraped twice and evaluated the rules")
        yield base


needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus missing: scripts/system-deps.sh installs it"
)


@pytest.mark.e2e
@needs_prometheus
def test_every_panel_query_succeeds_against_prometheus_and_core_panels_have_data(
    prometheus_url: str,
) -> None:
    all_queries = queries()
    assert {(q.dashboard, q.title) for q in all_queries} >= CORE
    with_data: set[tuple[str, str]] = set()

    def answered() -> bool:
        for q in all_queries:
            answer = _query(prometheus_url, fill_in(q.expr))
            assert answer["status"] == "success", (q, answer)
            if answer["data"]["result"]:
                with_data.add((q.dashboard, q.title))
        return with_data >= CORE

    deadline = time.monotonic() + WAIT_S
    while not answered():
        assert time.monotonic() < deadline, f"core panels without data: {sorted(CORE - with_data)}"
        time.sleep(0.5)


@pytest.mark.e2e
@needs_prometheus
def test_prometheus_loads_and_evaluates_every_shipped_rule(prometheus_url: str) -> None:
    status, body = _get(f"{prometheus_url}/api/v1/rules")
    assert status == 200
    rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
    assert {r["name"] for r in rules} == set(rule_exprs())
    broken = {r["name"]: r.get("lastError") for r in rules if r.get("health") == "err"}
    assert not broken


def test_dashboard_files_are_formatted_json() -> None:
    """Two-space JSON with a final newline, as Grafana exports it and diffs read well."""
    for path in sorted(DASHBOARDS.glob("*.json")):
        text = path.read_text()
        assert text == json.dumps(json.loads(text), indent=2) + "\n", path.name
