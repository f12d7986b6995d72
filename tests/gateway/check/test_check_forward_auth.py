"""The forward-auth face for nginx `auth_request`, Caddy `forward_auth` and Traefik ForwardAuth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.gateway.check._support import APP_HOST, BROWSER, CLIENT_IP, LOGIN_URL, CheckWorld
from zerogate.errors import ConfigError
from zerogate.gateway.check import DECISION_ID_HEADER, ROUTE_HEADER, create_forward_auth_app


@pytest.fixture
def client(world: CheckWorld) -> Iterator[TestClient]:
    with TestClient(create_forward_auth_app(world.checker), base_url="http://zg") as c:
        yield c


def _caddy(uri: str = "/pages/Home?rev=2", method: str = "GET", **extra: str) -> dict[str, str]:
    """What Caddy's forward_auth and Traefik's ForwardAuth send (plus our route header)."""
    return {
        "x-forwarded-method": method,
        "x-forwarded-uri": uri,
        "x-forwarded-host": APP_HOST,
        "x-forwarded-proto": "https",
        "x-forwarded-for": CLIENT_IP,
        "accept": BROWSER,
        ROUTE_HEADER: "wiki-web",
        **extra,
    }


def _nginx(uri: str = "/pages/Home?rev=2", method: str = "GET", **extra: str) -> dict[str, str]:
    """What our documented nginx `auth_request` location sets."""
    return {
        "x-original-method": method,
        "x-original-uri": uri,
        "x-forwarded-host": APP_HOST,
        "x-forwarded-proto": "https",
        "x-forwarded-for": CLIENT_IP,
        "accept": BROWSER,
        ROUTE_HEADER: "wiki-web",
        **extra,
    }


def test_forward_auth_caddy_allows_with_headers(world: CheckWorld, client: TestClient) -> None:
    alice = world.add_user("alice", "engineering")
    r = client.get("/forward-auth", headers=_caddy(cookie=world.sign_in(alice)))
    assert r.status_code == 200
    assert r.headers["x-zerogate-user"] == "alice"
    assert r.headers[DECISION_ID_HEADER]


def test_forward_auth_uses_the_original_method(world: CheckWorld, client: TestClient) -> None:
    alice = world.add_user("alice", "engineering")
    r = client.get("/forward-auth", headers=_caddy(method="DELETE", cookie=world.sign_in(alice)))
    assert r.status_code == 401  # wiki-write needs MFA: an API step-up, not the GET's allow
    assert world.records[-1].action == "DELETE"


def test_forward_auth_caddy_redirects_browsers(world: CheckWorld, client: TestClient) -> None:
    r = client.get("/forward-auth", headers=_caddy(), follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"].startswith(
        f"{LOGIN_URL}?next=%2Fcontinue%3Fto%3Dhttps%253A%252F%252F{APP_HOST}%252Fpages"
    )


def test_forward_auth_nginx_gets_401_with_location(world: CheckWorld, client: TestClient) -> None:
    """nginx's auth_request knows 2xx/401/403 only: the redirect rides in a 401's Location."""
    r = client.get("/forward-auth", headers=_nginx(), follow_redirects=False)
    assert r.status_code == 401
    assert r.headers["location"].startswith(f"{LOGIN_URL}?next=")
    bob = world.add_user("bob", "employees")
    r = client.get(
        "/forward-auth", headers=_nginx(cookie=world.sign_in(bob), **{ROUTE_HEADER: "admin-ui"})
    )
    assert r.status_code == 403
    r = client.get("/forward-auth", headers=_nginx(method="BREW"))
    assert r.status_code == 403  # a 405 would become a 500 in nginx
    alice = world.add_user("alice", "engineering")
    r = client.get("/forward-auth", headers=_nginx(cookie=world.sign_in(alice)))
    assert (r.status_code, r.headers["x-zerogate-user"]) == (200, "alice")


def test_forward_auth_missing_original_request_is_refused(
    world: CheckWorld, client: TestClient
) -> None:
    headers = _caddy()
    del headers["x-forwarded-uri"]
    assert client.get("/forward-auth", headers=headers).status_code == 400
    headers = _nginx()
    del headers["x-original-method"]
    assert client.get("/forward-auth", headers=headers).status_code == 403  # nginx: 400 -> 403


def test_forward_auth_host_falls_back_to_host_header(world: CheckWorld, client: TestClient) -> None:
    headers = _caddy()
    del headers["x-forwarded-host"]
    headers["host"] = "apps.example.test"
    r = client.get("/forward-auth", headers=headers, follow_redirects=False)
    assert "apps.example.test" in r.headers["location"]


def test_forward_auth_path_is_configurable(world: CheckWorld) -> None:
    with TestClient(create_forward_auth_app(world.checker, path="/auth")) as c:
        assert c.get("/auth", headers=_caddy(accept="application/json")).status_code == 401
        assert c.get("/healthz").status_code == 200
    for bad in ("auth", "/healthz"):
        with pytest.raises(ConfigError):
            create_forward_auth_app(world.checker, path=bad)
