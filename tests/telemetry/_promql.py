"""What the dashboard and rule tests need to read PromQL: the metric names an expression uses,
Grafana's template variables filled in, and every metric name Zerogate exports."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zerogate.audit import AuditStats, WitnessingStats
from zerogate.gateway.envoy import GatewayStats
from zerogate.policy import CacheStats
from zerogate.telemetry import Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
# Series Prometheus makes itself: the scrape's health and the alerts it evaluates.
BUILTIN = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
# What Grafana puts in for its own variables, and for ours ("All" is `.*`).
GRAFANA_VALUES = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "route": ".*",
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_TOKEN = re.compile(r"[A-Za-z0-9_.:]+")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "NaN", "Inf"})
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names `expr` selects: label matchers, strings, ranges,
    grouping labels, functions, keywords and numbers left out."""
    text = _STRING.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for token in _TOKEN.finditer(text):
        word = token.group()
        if word[0].isdigit() or word[0] == "." or word in _KEYWORDS:
            continue  # a number, a duration (`offset 2m`) or an operator
        if text[token.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(word)
    return names


def fill_in(expr: str, values: dict[str, str] | None = None) -> str:
    """`expr` with Grafana's variables replaced as Grafana would (`$__rate_interval` -> 1m)."""
    known = GRAFANA_VALUES | (values or {})

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in known:
            raise KeyError(f"no test value for the variable ${name} in {expr!r}")
        return known[name]

    return _VARIABLE.sub(value, expr)


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard: where it is, and the expression as written."""

    dashboard: str
    title: str
    expr: str
    instant: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def is_prometheus(datasource: Any) -> bool:
    return isinstance(datasource, dict) and datasource.get("type") == "prometheus"


def queries() -> list[Query]:
    """Every Prometheus expression of every dashboard: panel targets and annotations."""
    found = []
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                if is_prometheus(target.get("datasource", panel.get("datasource"))):
                    instant = bool(target.get("instant"))
                    found.append(Query(name, panel["title"], target["expr"], instant))
        for note in board.get("annotations", {}).get("list", []):
            if is_prometheus(note.get("datasource")):
                found.append(Query(name, f"annotation {note['name']}", note["expr"]))
    return found


def rule_exprs() -> dict[str, str]:
    """Every recording rule's and alert's expression in rules.yml, by its name."""
    doc = yaml.safe_load(RULES.read_text())
    return {
        rule.get("record") or rule["alert"]: str(rule["expr"])
        for group in doc["groups"]
        for rule in group["rules"]
    }


def recorded_names() -> set[str]:
    doc = yaml.safe_load(RULES.read_text())
    return {
        rule["record"] for group in doc["groups"] for rule in group["rules"] if "record" in rule
    }


class _Audit:
    stats = AuditStats()
    spooled = 0


# The sample names of each metric type (the Prometheus exposition format).
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "info": ("_info",),
}


def exported_names() -> set[str]:
    """Every sample name a `Metrics` exports, each scrape-time source watched; a labelled metric
    counts before it has its first sample."""
    metrics = Metrics()
    metrics.watch_decision_cache(lambda: CacheStats(hits=0, misses=0, entries=0, invalidations=0))

    async def envoy() -> GatewayStats:
        return GatewayStats()

    metrics.watch_gateway(envoy)
    metrics.watch_audit(_Audit())
    metrics.watch_policy(lambda: "a" * 64)
    metrics.watch_witnessing(WitnessingStats)
    asyncio.run(metrics.refresh())
    return {
        family.name + suffix
        for family in metrics.registry.collect()
        for suffix in _SUFFIXES[family.type]
    }
