"""Real nginx (`auth_request`) in front of an app, asking the real check service (docs/check.md).

Each test starts nginx as a child process, with the documented site config written into the
test's temp dir and a port the OS handed out, and stops it by its PID.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from tests.gateway.check._support import BROWSER, LOGIN_URL, CheckWorld
from tests.gateway.forward_auth._stack import (
    ROUTE,
    SPOOFED,
    CheckService,
    Echo,
    ProxyProcess,
    nginx_conf,
    proxy_client,
    require_binary,
)
from zerogate.app import free_port

pytestmark = pytest.mark.e2e

API = "application/json"


@pytest.fixture
def nginx(tmp_path: Path, check_service: CheckService, app_url: str) -> Iterator[ProxyProcess]:
    binary = require_binary("nginx")
    port = free_port()
    conf = nginx_conf(tmp_path, port=port, check_url=check_service.url, app_url=app_url)
    argv = [binary, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")]
    with ProxyProcess(argv, port=port, log=tmp_path / "nginx.out") as proxy:
        yield proxy


def test_nginx_allowed_user_reaches_the_app_with_the_checks_identity_only(
    world: CheckWorld, echo: Echo, nginx: ProxyProcess
) -> None:
    alice = world.add_user("alice", "engineering")
    with proxy_client(nginx) as http:
        r = http.get(
            "/pages/Home?rev=2",
            headers={"cookie": world.sign_in(alice), "accept": BROWSER, **SPOOFED},
        )
    assert r.status_code == 200, r.text
    (seen,) = echo.hits
    record = world.records[-1]
    assert seen["x-zerogate-user"] == ["alice"]  # the check's, not the client's "mallory"
    assert seen["x-zerogate-email"] == ["alice@example.test"]
    assert seen["x-zerogate-groups"] == ["engineering"]
    assert seen["x-zerogate-decision-id"] == [record.decision_id]
    assert seen["x-zerogate-route"] == [ROUTE]
    assert "x-zerogate-assertion" not in seen  # no signer here: the client's copy is gone too
    assert (record.verdict, record.route, record.action) == ("allow", ROUTE, "GET")
    assert record.client_ip == "127.0.0.1"  # nginx's $remote_addr, not the spoofed 203.0.113.9


def test_nginx_browser_without_a_session_is_sent_to_sign_in(
    world: CheckWorld, echo: Echo, nginx: ProxyProcess
) -> None:
    with proxy_client(nginx) as http:
        r = http.get("/pages/Home", headers={"accept": BROWSER, **SPOOFED})
    assert r.status_code == 302  # the check's 401 + Location, turned back by error_page
    assert r.headers["location"].startswith(f"{LOGIN_URL}?next=")
    # back to the page asked for, on the host the proxy saw (not the client's X-Forwarded-*)
    assert quote("http://wiki.example.test/pages/Home", safe="") in unquote(r.headers["location"])
    assert "www-authenticate" not in r.headers
    assert echo.hits == []
    assert world.records[-1].reason == "no_credentials"


def test_nginx_api_client_without_credentials_gets_a_bearer_challenge(
    echo: Echo, nginx: ProxyProcess
) -> None:
    with proxy_client(nginx) as http:
        r = http.get("/api/pages", headers={"accept": API})
    assert r.status_code == 401
    # auth_request itself copies the check's challenge onto the 401 (once: nothing adds another)
    assert r.headers.get_list("www-authenticate") == ['Bearer realm="zerogate"']
    assert "location" not in r.headers
    assert echo.hits == []


def test_nginx_denied_user_gets_403_and_the_app_is_never_called(
    world: CheckWorld, echo: Echo, nginx: ProxyProcess
) -> None:
    carol = world.add_user("carol", "contractors")  # not an employee: no permit for the wiki
    with proxy_client(nginx) as http:
        r = http.get("/pages/Home", headers={"cookie": world.sign_in(carol), **SPOOFED})
    assert r.status_code == 403
    assert r.headers["x-zerogate-decision-id"] == world.records[-1].decision_id
    assert world.records[-1].verdict == "deny"
    assert echo.hits == []


def test_nginx_check_service_down_fails_closed(
    world: CheckWorld, echo: Echo, check_service: CheckService, nginx: ProxyProcess
) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    with proxy_client(nginx) as http:
        assert http.get("/pages/Home", headers={"cookie": cookie}).status_code == 200
        check_service.stop()
        r = http.get("/pages/Home", headers={"cookie": cookie})
    assert r.status_code == 500  # auth_request turns the unreachable check into an error
    assert len(echo.hits) == 1  # only the request before the check went down


def test_nginx_auth_location_is_not_reachable_from_outside(
    echo: Echo, world: CheckWorld, nginx: ProxyProcess
) -> None:
    with proxy_client(nginx) as http:
        r = http.get("/_zerogate", headers={"accept": API})
    assert r.status_code == 404  # `internal`: only auth_request's subrequest may use it
    assert world.records == []
    assert echo.hits == []
