"""The route model: a Gateway exists only when valid, and it reports every problem at once."""

from __future__ import annotations

import pytest

from zerogate.errors import ConfigError
from zerogate.gateway.envoy import Gateway, Route

UP = "http://127.0.0.1:8081"
CHECK = "http://127.0.0.1:9191"


def gateway(*routes: Route, **options: object) -> Gateway:
    fields: dict[str, object] = {"listen_port": 8080, "admin_port": 9901, "authz_url": CHECK}
    fields.update(options)
    return Gateway(routes=routes, **fields)  # type: ignore[arg-type]


def problems(*routes: Route, **options: object) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        gateway(*routes, **options)
    return [(d.code, d.loc) for d in caught.value.details]


def test_route_defaults_resource_id_to_name_and_normalises_names() -> None:
    route = Route("wiki", hosts=("Wiki.Example.COM",), upstream=UP, strip_headers=("Cookie",))
    assert route.resource_id == "wiki"
    assert route.hosts == ("wiki.example.com",)
    assert route.strip_headers == ("cookie",)
    assert Route("wiki", hosts="wiki.example.com", upstream=UP).hosts == ("wiki.example.com",)


def test_gateway_accepts_a_typical_configuration() -> None:
    built = gateway(
        Route("wiki", hosts=("wiki.example.com",), upstream=UP),
        Route("api", hosts=("*.api.example.com",), path_prefix="/v1", upstream="http://api:80"),
        Route(
            "hooks",
            hosts=("wiki.example.com",),
            path_prefix="/hooks/",
            upstream=UP,
            allow_public=True,
        ),
        Route("six", hosts=("six.example.com",), upstream="http://[::1]:8082", websockets=True),
    )
    assert [r.name for r in built.routes] == ["wiki", "api", "hooks", "six"]


def test_gateway_reports_every_problem_at_once() -> None:
    found = problems(
        Route("ok", hosts=("a.example.com",), upstream=UP),
        Route("bad name!", hosts=(), upstream="ftp://x", timeout_s=0),
        Route("hosts", hosts=("*", "a.example.com:8080", "*.com", "x.test", "x.test"), upstream=UP),
        Route("paths", hosts=("p.example.com",), path_prefix="/a/../b", upstream=UP),
        Route(
            "headers",
            hosts=("h.example.com",),
            upstream=UP,
            pass_headers=("x-zerogate-user", "bad header"),
            strip_headers=("host",),
        ),
        Route("ok", hosts=("a.example.com",), upstream=UP, resource_id='say "hi"'),
        listen_host="localhost",
        admin_port=8080,
        authz_url="https://check.example.com",
        concurrency=0,
    )
    assert set(found) == {
        ("gateway_invalid", "admin_port"),
        ("gateway_authz_invalid", "authz_url"),
        ("gateway_invalid", "concurrency"),
        ("gateway_invalid", "listen_host"),
        ("route_invalid", "routes[1].name"),
        ("route_host_invalid", "routes[1].hosts"),
        ("route_upstream_invalid", "routes[1].upstream"),
        ("route_invalid", "routes[1].timeout_s"),
        ("route_host_invalid", "routes.hosts.hosts[0]"),
        ("route_host_invalid", "routes.hosts.hosts[1]"),
        ("route_host_invalid", "routes.hosts.hosts[2]"),
        ("route_host_invalid", "routes.hosts.hosts[4]"),
        ("route_path_invalid", "routes.paths.path_prefix"),
        ("route_header_invalid", "routes.headers.pass_headers[0]"),
        ("route_header_invalid", "routes.headers.pass_headers[1]"),
        ("route_header_invalid", "routes.headers.strip_headers[0]"),
        ("route_invalid", "routes[5].resource_id"),
        ("route_duplicate", "routes[5].name"),
        ("route_duplicate", "routes[5].path_prefix"),
    }


def test_gateway_problems_are_sorted_by_location() -> None:
    with pytest.raises(ConfigError) as caught:
        gateway(
            *(Route(f"r{i}", hosts=("bad host",), upstream=UP) for i in range(12)),
        )
    locs = [d.loc for d in caught.value.details]
    assert locs[:3] == ["routes.r0.hosts[0]", "routes.r1.hosts[0]", "routes.r2.hosts[0]"]
    assert locs[-1] == "routes.r11.hosts[0]"  # r11 after r2: digit runs compare as numbers


def test_gateway_rejects_a_catch_all_host() -> None:
    with pytest.raises(ConfigError) as caught:
        gateway(Route("all", hosts=("*",), upstream=UP))
    assert caught.value.details[0].code == "route_host_invalid"
    assert "404" in caught.value.details[0].msg


def test_gateway_rejects_the_same_host_and_path_twice() -> None:
    found = problems(
        Route("a", hosts=("x.example.com", "y.example.com"), upstream=UP),
        Route("b", hosts=("y.example.com",), upstream="http://127.0.0.1:9"),
    )
    assert found == [("route_duplicate", "routes.b.path_prefix")]


@pytest.mark.parametrize(
    "upstream",
    [
        "http://127.0.0.1",
        "http://localhost:3000",
        "http://app.internal:8080/",
        "http://[::1]:3000",
        "http://10.0.0.7:80",
    ],
)
def test_gateway_accepts_plain_http_upstreams(upstream: str) -> None:
    gateway(Route("r", hosts=("r.example.com",), upstream=upstream))


@pytest.mark.parametrize(
    "upstream",
    [
        "https://app.example.com",  # upstream TLS is not generated yet
        "http://user:pw@127.0.0.1:3000",
        "http://127.0.0.1:3000/base",
        "http://127.0.0.1:3000?x=1",
        "http://0.0.0.0:3000",
        "http://under_score:3000",
        "http://127.0.0.1:99999",
        "127.0.0.1:3000",
        "",
    ],
)
def test_gateway_rejects_other_upstreams(upstream: str) -> None:
    found = problems(Route("r", hosts=("r.example.com",), upstream=upstream))
    assert found == [("route_upstream_invalid", "routes.r.upstream")]


@pytest.mark.parametrize("prefix", ["/", "/app", "/app/", "/a/b-c_d~e", "/v1/:id@x"])
def test_gateway_accepts_path_prefixes(prefix: str) -> None:
    gateway(Route("r", hosts=("r.example.com",), path_prefix=prefix, upstream=UP))


@pytest.mark.parametrize(
    "prefix", ["", "app", "//app", "/app//x", "/./app", "/a/../b", "/a%2Fb", "/a?b", "/a#b", "/a b"]
)
def test_gateway_rejects_path_prefixes_envoy_would_never_match(prefix: str) -> None:
    found = problems(Route("r", hosts=("r.example.com",), path_prefix=prefix, upstream=UP))
    assert found == [("route_path_invalid", "routes.r.path_prefix")]


@pytest.mark.parametrize("prefix", ["check", "/check/", "/che?ck", ""])
def test_gateway_rejects_bad_authz_path_prefixes(prefix: str) -> None:
    assert problems(authz_path_prefix=prefix) == [("gateway_invalid", "authz_path_prefix")]


def test_gateway_with_no_routes_is_valid() -> None:
    assert gateway().routes == ()


def test_gateway_accepts_star_localhost_but_no_other_single_label_wildcard() -> None:
    # Every *.localhost name is loopback (RFC 6761 §6.3), so it is a real domain to route.
    built = gateway(Route("dev", hosts=("*.LocalHost", "localhost"), upstream=UP))
    assert built.routes[0].hosts == ("*.localhost", "localhost")
    found = problems(Route("r", hosts=("*", "*.com", "*.localhost.", "*.local"), upstream=UP))
    assert found == [("route_host_invalid", f"routes.r.hosts[{i}]") for i in range(4)]
