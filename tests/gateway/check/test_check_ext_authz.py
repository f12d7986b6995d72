"""The Envoy ext_authz HTTP face through Starlette's TestClient: the contract with Envoy."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.gateway.check._support import (
    APP_HOST,
    BROWSER,
    CLIENT_IP,
    CheckWorld,
    bearer,
    continued,
)
from zerogate.errors import ConfigError
from zerogate.gateway.check import DECISION_ID_HEADER, ROUTE_HEADER, Verdict, create_app


@pytest.fixture
def client(world: CheckWorld) -> Iterator[TestClient]:
    with TestClient(create_app(world.checker), base_url="http://zerogate-check") as c:
        yield c


def _envoy(route: str | None = "wiki-web", **extra: str) -> dict[str, str]:
    """The headers Envoy sends to the check service (Host is the original :authority)."""
    headers = {
        "host": APP_HOST,
        "x-forwarded-proto": "https",
        "x-forwarded-for": CLIENT_IP,
        "x-request-id": "8d3e-req",
        "accept": BROWSER,
    }
    if route is not None:
        headers[ROUTE_HEADER] = route
    return {**headers, **extra}


def test_ext_authz_allows_with_upstream_headers(world: CheckWorld, client: TestClient) -> None:
    alice = world.add_user("alice", "engineering", "employees")
    r = client.get("/check/pages/Home", headers=_envoy(cookie=world.sign_in(alice)))
    assert r.status_code == 200
    assert r.headers["x-zerogate-user"] == "alice"
    assert r.headers["x-zerogate-email"] == "alice@example.test"
    assert r.headers["x-zerogate-groups"] == "employees,engineering"
    assert r.headers[DECISION_ID_HEADER] == world.records[-1].decision_id
    assert r.content == b""
    assert world.records[-1].request_id == "8d3e-req"


def test_ext_authz_answers_any_method_with_the_original_method(
    world: CheckWorld, client: TestClient
) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice, amr=("pwd", "otp"), mfa_ago_s=5)
    for method in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"):
        r = client.request(method, "/check/api/x", headers=_envoy(cookie=cookie))
        assert r.status_code == 200, method
        assert world.records[-1].action == method
    r = client.request("PROPFIND", "/check/api/x", headers=_envoy(cookie=cookie))
    assert r.status_code == 405


def test_ext_authz_redirects_browsers_with_the_raw_original_url(
    world: CheckWorld, client: TestClient
) -> None:
    r = client.get(
        "/check/pages/Caf%C3%A9%2Fmenu?x=1&next=%2F%2Fevil",
        headers=_envoy(),
        follow_redirects=False,
    )
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    # Another origin than the IdP's: back through its allowlisted /continue page.
    assert query["next"] == [
        continued(f"https://{APP_HOST}/pages/Caf%C3%A9%2Fmenu?x=1&next=%2F%2Fevil")
    ]
    assert r.headers["cache-control"] == "no-store"
    assert r.headers[DECISION_ID_HEADER]


def test_ext_authz_api_gets_401_challenge(world: CheckWorld, client: TestClient) -> None:
    r = client.get("/check/api/items", headers=_envoy(accept="application/json"))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="zerogate"'
    assert r.json() == {"error": "unauthenticated"}


def test_ext_authz_id_token_as_bearer_is_401(world: CheckWorld, client: TestClient) -> None:
    """JWT-A15 through the HTTP face."""
    alice = world.add_user("alice", "engineering")
    r = client.get("/check/api", headers=_envoy(authorization=bearer(world.id_token(alice))))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_ext_authz_denied_page(world: CheckWorld, client: TestClient) -> None:
    bob = world.add_user("bob", "employees")
    r = client.get("/check/", headers=_envoy("admin-ui", cookie=world.sign_in(bob)))
    assert r.status_code == 403
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers[DECISION_ID_HEADER] in r.text
    assert "hardware key" in r.text
    assert world.records[-1].verdict is Verdict.DENY


def test_ext_authz_client_ip_is_the_last_hop_envoy_appended(
    world: CheckWorld, client: TestClient
) -> None:
    """A client-supplied X-Forwarded-For entry must not pick the address the policy sees."""
    carol = world.add_user("carol", "employees")
    cookie = world.sign_in(carol)
    spoofed = _envoy(cookie=cookie, **{"x-forwarded-for": f"{CLIENT_IP}, 203.0.113.9"})
    assert client.get("/check/", headers=spoofed).status_code == 403  # the refused range
    laundered = _envoy(cookie=cookie, **{"x-forwarded-for": f"203.0.113.9, {CLIENT_IP}"})
    assert client.get("/check/", headers=laundered).status_code == 200
    assert world.records[-1].client_ip == CLIENT_IP


def test_ext_authz_ignores_x_forwarded_host(world: CheckWorld, client: TestClient) -> None:
    r = client.get(
        "/check/p", headers=_envoy(**{"x-forwarded-host": "evil.example"}), follow_redirects=False
    )
    next_url = parse_qs(urlsplit(r.headers["location"]).query)["next"][0]
    assert next_url == continued(f"https://{APP_HOST}/p")


def test_ext_authz_missing_route_or_address_is_refused(
    world: CheckWorld, client: TestClient
) -> None:
    assert client.get("/check/p", headers=_envoy(None)).status_code == 403
    no_xff = _envoy()
    del no_xff["x-forwarded-for"]
    assert client.get("/check/p", headers=no_xff).status_code == 400


def test_ext_authz_repeated_security_headers_are_refused(
    world: CheckWorld, client: TestClient
) -> None:
    alice = world.add_user("alice", "engineering")
    token = world.access_token(alice)
    headers = [(k, v) for k, v in _envoy().items()]
    twice = [*headers, ("authorization", bearer(token)), ("authorization", "Bearer x")]
    r = client.get("/check/p", headers=twice)
    assert r.status_code == 400
    routes = [*headers, (ROUTE_HEADER, "admin-ui")]
    assert client.get("/check/p", headers=routes).status_code == 400


def test_ext_authz_split_cookie_headers_are_joined(world: CheckWorld, client: TestClient) -> None:
    """HTTP/2 may send one cookie header per cookie (RFC 9113 §8.2.3)."""
    alice = world.add_user("alice", "engineering")
    session = world.sign_in(alice).split("; ")[1]
    headers = [*_envoy().items(), ("cookie", "theme=dark"), ("cookie", session)]
    assert client.get("/check/p", headers=headers).status_code == 200


def test_ext_authz_huge_headers_are_refused_not_crashed(
    world: CheckWorld, client: TestClient
) -> None:
    r = client.get("/check/p", headers=_envoy(cookie="a=" + "x" * 20_000))
    assert r.status_code == 431
    r = client.get("/check/" + "a" * 10_000, headers=_envoy())
    assert r.status_code == 414
    r = client.get("/check/p", headers=_envoy(authorization="Bearer " + "x" * 40_000))
    assert r.status_code == 431


def test_ext_authz_healthz(world: CheckWorld) -> None:
    state = {"up": False}
    app = create_app(world.checker, ready=lambda: state["up"])
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 503
        state["up"] = True
        r = c.get("/healthz")
        assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_ext_authz_custom_prefix(world: CheckWorld) -> None:
    alice = world.add_user("alice", "engineering")
    with TestClient(create_app(world.checker, path_prefix="/authz/v1")) as c:
        r = c.get("/authz/v1/pages", headers=_envoy(cookie=world.sign_in(alice)))
        assert r.status_code == 200
        assert c.get("/check/pages", headers=_envoy()).status_code == 404
    for bad in ("check", "/check/", "/{x}"):
        with pytest.raises(ConfigError):
            create_app(world.checker, path_prefix=bad)
