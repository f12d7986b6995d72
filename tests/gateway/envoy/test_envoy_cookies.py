"""Zerogate's own cookies stop at the gateway: the check sees them, the upstream never does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from envoy_support import CheckStandIn, RawClient, Upstream, make_gateway, run

from zerogate.errors import ConfigError
from zerogate.gateway.envoy import EnvoyProcess, Gateway, Route

STRIPPED = ("zerogate_session", "__Host-zerogate_gw")


def _gateway(check_url: str, upstream_url: str) -> Gateway:
    route = Route("app", hosts=("app.test",), upstream=upstream_url, resource_id="App::Main")
    return make_gateway(check_url, route, strip_cookies=STRIPPED)


@pytest.mark.parametrize(
    ("sent", "upstream_gets"),
    [
        ("a=1; zerogate_session=SSO; __Host-zerogate_gw=GW; b=2", ["a=1; b=2"]),
        ("zerogate_session=SSO;__Host-zerogate_gw=GW", []),  # nothing left: no header at all
        ("theme=dark", ["theme=dark"]),
        (
            "zerogate_session_x=1; xzerogate_session=2",
            ["zerogate_session_x=1; xzerogate_session=2"],
        ),
    ],
)
def test_zerogate_cookies_never_reach_the_upstream(
    sent: str,
    upstream_gets: list[str],
    tmp_path: Path,
    upstream: Upstream,
    upstream_url: str,
    check: CheckStandIn,
    check_url: str,
) -> None:
    async def scenario() -> httpx.Response:
        envoy = EnvoyProcess(_gateway(check_url, upstream_url), workdir=tmp_path / "envoy")
        async with envoy, httpx.AsyncClient(trust_env=False, timeout=10) as http:
            url = f"http://127.0.0.1:{envoy.gateway.listen_port}/x"
            return await http.get(url, headers={"host": "app.test", "cookie": sent})

    assert run(scenario()).status_code == 200
    (asked,) = check.seen
    assert asked.one("cookie") == sent  # the check decides on them
    (seen,) = upstream.seen
    assert seen.all("cookie") == upstream_gets


def test_several_cookie_headers_are_each_filtered(
    tmp_path: Path, upstream: Upstream, upstream_url: str, check: CheckStandIn, check_url: str
) -> None:
    async def scenario() -> int:
        envoy = EnvoyProcess(_gateway(check_url, upstream_url), workdir=tmp_path / "envoy")
        async with envoy, RawClient(envoy.gateway.listen_port) as raw:
            headers = [("cookie", "zerogate_session=SSO"), ("cookie", "a=1; __Host-zerogate_gw=G")]
            status, _, _ = await raw.get("/x", host="app.test", headers=headers)
            return status

    assert run(scenario()) == 200
    (seen,) = upstream.seen
    assert "SSO" not in ";".join(seen.all("cookie"))
    assert "__Host-zerogate_gw" not in ";".join(seen.all("cookie"))
    assert "a=1" in ";".join(seen.all("cookie"))


def test_a_cookie_name_that_is_not_a_token_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        make_gateway("http://127.0.0.1:9", strip_cookies=('bad"name',))
    assert [d.loc for d in caught.value.details] == ["strip_cookies[0]"]
