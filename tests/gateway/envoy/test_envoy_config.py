"""The generated Envoy configuration, read as data: the security properties docs/gateway.md claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zerogate.gateway.envoy import (
    CHECK_REQUEST_HEADERS,
    ROUTE_HEADER,
    SPOOFABLE_HEADERS,
    Gateway,
    Route,
    XdsKind,
    XdsLayout,
    build_bootstrap,
    build_clusters,
    build_listener,
    build_route_config,
)

UP = "http://127.0.0.1:8081"
EXT_AUTHZ = "envoy.filters.http.ext_authz"


def gateway(*routes: Route, **options: Any) -> Gateway:
    fields: dict[str, Any] = {
        "listen_port": 8080,
        "admin_port": 9901,
        "authz_url": "http://127.0.0.1:9191",
    }
    fields.update(options)
    return Gateway(routes=routes, **fields)


GW = gateway(
    Route(
        "wiki",
        hosts=("wiki.example.com", "*.wiki.example.com"),
        upstream=UP,
        resource_id="Wiki::Main",
        pass_headers=("x-api-key",),
    ),
    Route(
        "wiki-api",
        hosts=("wiki.example.com",),
        path_prefix="/api",
        upstream="http://api:80",
        websockets=True,
        strip_headers=("authorization",),
        timeout_s=2.5,
    ),
    Route(
        "hooks", hosts=("hooks.example.com",), path_prefix="/in/", upstream=UP, allow_public=True
    ),
)


def hcm(gw: Gateway = GW) -> dict[str, Any]:
    listener = build_listener(gw)
    return listener["filter_chains"][0]["filters"][0]["typed_config"]  # type: ignore[no-any-return]


def ext_authz(gw: Gateway = GW) -> dict[str, Any]:
    (found,) = [f for f in hcm(gw)["http_filters"] if f["name"] == EXT_AUTHZ]
    return found["typed_config"]  # type: ignore[no-any-return]


def vhosts(gw: Gateway = GW) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in build_route_config(gw)["virtual_hosts"]}


def test_ext_authz_fails_closed() -> None:
    config = ext_authz()
    assert config["failure_mode_allow"] is False
    assert config["status_on_error"] == {"code": 503}
    assert "failure_mode_allow_header_add" not in config


def test_ext_authz_is_http_mode_against_the_check_cluster() -> None:
    service = ext_authz()["http_service"]
    assert service["server_uri"] == {
        "uri": "http://127.0.0.1:9191",
        "cluster": "zerogate_authz",
        "timeout": "2s",
    }
    assert service["path_prefix"] == "/check"
    response = service["authorization_response"]
    assert response["allowed_upstream_headers"] == {
        "patterns": [{"prefix": "x-zerogate-"}, {"exact": "cookie"}]  # our cookies taken out
    }
    denied = {p["exact"] for p in response["allowed_client_headers"]["patterns"]}
    assert {"location", "set-cookie", "www-authenticate", "content-type"} <= denied
    assert {"cache-control", "allow", "x-zerogate-decision-id"} <= denied
    on_success = response["allowed_client_headers_on_success"]["patterns"]
    assert on_success == [{"exact": "set-cookie"}]
    assert "grpc_service" not in ext_authz()


def test_ext_authz_sends_the_baseline_headers_the_route_header_and_pass_headers() -> None:
    allowed = {p["exact"] for p in ext_authz()["allowed_headers"]["patterns"]}
    baseline = {"cookie", "authorization", "x-forwarded-proto", "x-forwarded-host", "x-request-id"}
    assert baseline | {"traceparent", ROUTE_HEADER, "x-api-key"} <= allowed
    assert allowed == set(CHECK_REQUEST_HEADERS) | {"x-api-key"}


def test_filter_order_is_route_header_then_ext_authz_then_router() -> None:
    names = [f["name"] for f in hcm()["http_filters"]]
    assert names == ["zerogate.route_header", EXT_AUTHZ, "envoy.filters.http.router"]


def test_spoofable_headers_are_stripped_before_any_filter() -> None:
    (strip,) = hcm()["early_header_mutation_extensions"]
    mutations = strip["typed_config"]["mutations"]
    prefixes = {
        m["remove_on_match"]["key_matcher"]["prefix"] for m in mutations if "remove_on_match" in m
    }
    names = {m["remove"] for m in mutations if "remove" in m}
    assert {"x-zerogate-", "x-auth-request-", "x-forwarded-", "x-envoy-"} <= prefixes
    assert {"x-remote-", "x-goog-authenticated-user-", "cf-access-", "x-pomerium-"} <= prefixes
    assert {"forwarded", "remote-user", "x-real-ip"} <= names
    assert names == set(SPOOFABLE_HEADERS)
    # the early mutation may only remove: it must never add a header a client could shape
    assert all(set(m) <= {"remove", "remove_on_match"} for m in mutations)


def test_connection_manager_hardening() -> None:
    config = hcm()
    assert config["use_remote_address"] is True
    assert config["xff_num_trusted_hops"] == 0
    assert config["normalize_path"] is True
    assert config["merge_slashes"] is True
    assert config["path_with_escaped_slashes_action"] == "REJECT_REQUEST"
    assert config["strip_any_host_port"] is True
    assert config["generate_request_id"] is True
    assert config["preserve_external_request_id"] is False
    assert config["server_header_transformation"] == "PASS_THROUGH"
    assert config["max_request_headers_kb"] <= 60
    protocol = config["common_http_protocol_options"]
    assert protocol["headers_with_underscores_action"] == "REJECT_REQUEST"
    assert protocol["max_headers_count"] <= 100
    assert config["upgrade_configs"] == [{"upgrade_type": "websocket", "enabled": False}]


def test_router_suppresses_envoy_headers() -> None:
    router = hcm()["http_filters"][-1]["typed_config"]
    assert router["suppress_envoy_headers"] is True


def test_public_routes_disable_ext_authz_and_others_name_their_resource() -> None:
    hooks = vhosts()["hooks.example.com"]["routes"][0]
    assert hooks["typed_per_filter_config"][EXT_AUTHZ] == {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
        "disabled": True,
    }
    wiki = next(r for r in vhosts()["wiki.example.com"]["routes"] if r["name"] == "wiki")
    per_route = wiki["typed_per_filter_config"]
    assert "disabled" not in per_route[EXT_AUTHZ]
    assert per_route[EXT_AUTHZ]["check_settings"]["context_extensions"] == {
        "route": "wiki",
        "resource_id": "Wiki::Main",
    }
    (mutation,) = per_route["zerogate.route_header"]["mutations"]["request_mutations"]
    assert mutation["append"] == {
        "header": {"key": ROUTE_HEADER, "value": "Wiki::Main"},
        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
    }


def test_no_default_upstream_unknown_hosts_and_paths_get_404_without_a_check() -> None:
    hosts = vhosts()
    unknown = hosts["zerogate_unknown_host"]
    assert unknown["domains"] == ["*"]
    (only,) = unknown["routes"]
    assert only["direct_response"]["status"] == 404
    assert only["typed_per_filter_config"][EXT_AUTHZ]["disabled"] is True
    assert "route" not in only
    # a host without a "/" route ends in the same 404, not in a neighbour's upstream
    assert hosts["hooks.example.com"]["routes"][-1]["direct_response"]["status"] == 404
    # only the catch-all host has "*"
    assert [v["name"] for v in hosts.values() if "*" in v["domains"]] == ["zerogate_unknown_host"]


def test_routes_in_a_host_go_most_specific_first_with_separated_prefixes() -> None:
    routes = vhosts()["wiki.example.com"]["routes"]
    assert [r["name"] for r in routes] == ["wiki-api", "wiki"]
    assert routes[0]["match"] == {"path_separated_prefix": "/api"}
    assert routes[1]["match"] == {"prefix": "/"}
    assert vhosts()["hooks.example.com"]["routes"][0]["match"] == {"prefix": "/in/"}
    assert vhosts()["*.wiki.example.com"]["domains"] == ["*.wiki.example.com"]


def test_route_options_become_route_actions() -> None:
    api = vhosts()["wiki.example.com"]["routes"][0]
    assert api["route"]["timeout"] == "2.5s"
    assert api["route"]["upgrade_configs"] == [{"upgrade_type": "websocket", "enabled": True}]
    assert api["request_headers_to_remove"] == ["authorization"]
    wiki = vhosts()["wiki.example.com"]["routes"][1]
    assert "upgrade_configs" not in wiki["route"]
    assert "request_headers_to_remove" not in wiki


def test_clusters_one_per_distinct_upstream_plus_the_check() -> None:
    clusters = {c["name"]: c for c in build_clusters(GW)}
    assert set(clusters) == {"zerogate_authz", "upstream_127_0_0_1_8081", "upstream_api_80"}
    assert clusters["upstream_127_0_0_1_8081"]["type"] == "STATIC"
    assert clusters["upstream_api_80"]["type"] == "LOGICAL_DNS"
    assert clusters["zerogate_authz"]["connect_timeout"] == "1s"
    assert all("connect_timeout" in c for c in clusters.values())
    wiki = next(r for r in vhosts()["wiki.example.com"]["routes"] if r["name"] == "wiki")
    assert wiki["route"]["cluster"] == "upstream_127_0_0_1_8081"


def test_bootstrap_admin_is_loopback_only_and_resources_come_from_watched_files(
    tmp_path: Path,
) -> None:
    public = gateway(listen_host="0.0.0.0")
    layout = XdsLayout(tmp_path)
    bootstrap = build_bootstrap(public, xds=layout, node_id="gw-1")
    assert bootstrap["admin"]["address"]["socket_address"] == {
        "address": "127.0.0.1",
        "port_value": 9901,
    }
    assert bootstrap["node"] == {"id": "gw-1", "cluster": "zerogate"}
    assert "static_resources" not in bootstrap
    for key, kind in (("lds_config", XdsKind.LDS), ("cds_config", XdsKind.CDS)):
        source = bootstrap["dynamic_resources"][key]["path_config_source"]
        assert source["path"] == str(tmp_path / kind.value / f"{kind.value}.json")
        assert source["watched_directory"] == {"path": str(tmp_path / kind.value)}
    assert build_listener(public)["address"]["socket_address"]["address"] == "0.0.0.0"


def test_listener_takes_routes_from_rds_when_given_a_source(tmp_path: Path) -> None:
    source = XdsLayout(tmp_path).config_source(XdsKind.RDS)
    config = build_listener(GW, rds=source)["filter_chains"][0]["filters"][0]["typed_config"]
    assert "route_config" not in config
    assert config["rds"] == {"route_config_name": "zerogate_routes", "config_source": source}


@pytest.mark.parametrize(("seconds", "text"), [(30, "30s"), (2.5, "2.5s"), (0.0001, "0.001s")])
def test_timeouts_never_round_to_zero(seconds: float, text: str) -> None:
    route = Route("r", hosts=("r.example.com",), upstream=UP, timeout_s=seconds)
    assert vhosts(gateway(route))["r.example.com"]["routes"][0]["route"]["timeout"] == text
