"""The xDS files: content-derived versions, atomic swaps, make-before-break cluster merges."""

from __future__ import annotations

from pathlib import Path

import orjson

from zerogate.gateway.envoy import Gateway, Route, XdsDocument, XdsKind, XdsLayout, render
from zerogate.gateway.envoy._reload import plan
from zerogate.gateway.envoy._xds import merge_clusters

UP = "http://127.0.0.1:8081"


def gateway(*routes: Route) -> Gateway:
    return Gateway(
        listen_port=8080, admin_port=9901, authz_url="http://127.0.0.1:9191", routes=routes
    )


WIKI = Route("wiki", hosts=("wiki.example.com",), upstream=UP)
API = Route("api", hosts=("api.example.com",), upstream="http://127.0.0.1:8082")


def test_versions_follow_content_only(tmp_path: Path) -> None:
    layout = XdsLayout(tmp_path)
    first, again = render(gateway(WIKI), layout), render(gateway(WIKI), layout)
    assert first == again
    changed = render(gateway(WIKI, API), layout)
    assert changed.rds.version != first.rds.version
    assert changed.cds.version != first.cds.version
    assert changed.lds.version == first.lds.version  # routes live in RDS: no listener change


def test_write_swaps_a_whole_discovery_response_in(tmp_path: Path) -> None:
    layout = XdsLayout(tmp_path)
    snapshot = render(gateway(WIKI), layout)
    layout.write(snapshot.rds)
    path = layout.file(XdsKind.RDS)
    assert path == tmp_path / "rds" / "rds.json"
    document = orjson.loads(path.read_bytes())
    assert document["version_info"] == snapshot.rds.version
    (resource,) = document["resources"]
    assert resource["@type"] == "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
    assert resource["name"] == "zerogate_routes"
    layout.write(render(gateway(WIKI, API), layout).rds)
    assert [p.name for p in path.parent.iterdir()] == ["rds.json"]  # no temp file left behind


def test_merge_keeps_old_clusters_until_the_routes_are_gone(tmp_path: Path) -> None:
    layout = XdsLayout(tmp_path)
    old = render(gateway(WIKI), layout).cds
    new = render(gateway(API), layout).cds
    merged = merge_clusters(old, new)
    names = [c["name"] for c in merged.resources]
    assert names == ["upstream_127_0_0_1_8081", "upstream_127_0_0_1_8082", "zerogate_authz"]
    assert merge_clusters(old, old).version == old.version
    assert merge_clusters(new, render(gateway(API, WIKI), layout).cds).version == (
        render(gateway(API, WIKI), layout).cds.version
    )


def test_document_versions_are_short_stable_hashes() -> None:
    one = XdsDocument.of(XdsKind.CDS, [{"name": "a", "type": "STATIC"}])
    same = XdsDocument.of(XdsKind.CDS, [{"type": "STATIC", "name": "a"}])
    assert one.version == same.version
    assert len(one.version) == 16


def _kinds(steps: list[list[XdsDocument]]) -> list[list[str]]:
    return [[d.kind.value for d in step] for step in steps]


def _cluster_names(document: XdsDocument) -> list[str]:
    return [str(c["name"]) for c in document.resources]


def test_plan_makes_before_it_breaks(tmp_path: Path) -> None:
    layout = XdsLayout(tmp_path)

    def docs(gw: Gateway) -> dict[XdsKind, XdsDocument]:
        snapshot = render(gw, layout)
        return {XdsKind.LDS: snapshot.lds, XdsKind.CDS: snapshot.cds, XdsKind.RDS: snapshot.rds}

    one, both, other = gateway(WIKI), gateway(WIKI, API), gateway(API)
    assert plan(docs(one), render(one, layout)) == []
    # a new upstream: its cluster first, then the route that names it
    steps = plan(docs(one), render(both, layout))
    assert _kinds(steps) == [["cds"], ["rds"]]
    assert "upstream_127_0_0_1_8082" in _cluster_names(steps[0][0])
    # a removed upstream: the route goes first, its cluster after
    steps = plan(docs(both), render(one, layout))
    assert _kinds(steps) == [["rds"], ["cds"]]
    assert "upstream_127_0_0_1_8082" not in _cluster_names(steps[1][0])
    # a swap: both clusters while the route moves, then only the new one
    steps = plan(docs(one), render(other, layout))
    assert _kinds(steps) == [["cds"], ["rds"], ["cds"]]
    assert len(_cluster_names(steps[0][0])) == 3
    assert _cluster_names(steps[2][0]) == ["upstream_127_0_0_1_8082", "zerogate_authz"]
    # a new check service: its cluster changes in place, then the listener that calls it
    moved = Gateway(
        listen_port=8080, admin_port=9901, authz_url="http://127.0.0.1:9292", routes=(WIKI,)
    )
    assert _kinds(plan(docs(one), render(moved, layout))) == [["cds"], ["lds"]]
