"""Real Caddy (`forward_auth`) in front of an app, asking the real check service (docs/check.md).

Each test starts Caddy as a child process, with the documented Caddyfile written into the test's
temp dir (its data and config directories too) and a port the OS handed out, and stops it by its
PID. Without caddy the tests skip, except in CI, where scripts/system-deps.sh installs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.check._support import BROWSER, CheckWorld
from tests.gateway.forward_auth._stack import (
    ROUTE,
    SPOOFED,
    CheckService,
    Echo,
    ProxyProcess,
    assert_api_gets_a_bearer_challenge,
    assert_browser_sent_to_sign_in,
    caddy_env,
    caddyfile,
    proxy_client,
    require_binary,
)
from zerogate.app import free_port

pytestmark = pytest.mark.e2e

API = "application/json"


@pytest.fixture
def caddy(tmp_path: Path, check_service: CheckService, app_url: str) -> Iterator[ProxyProcess]:
    binary = require_binary("caddy")
    port = free_port()
    config = caddyfile(tmp_path, port=port, check_url=check_service.url, app_url=app_url)
    argv = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
    log = tmp_path / "caddy.out"
    with ProxyProcess(argv, port=port, log=log, env=caddy_env(tmp_path)) as proxy:
        yield proxy


def test_caddy_allowed_user_reaches_the_app_with_the_checks_identity_only(
    world: CheckWorld, echo: Echo, caddy: ProxyProcess
) -> None:
    alice = world.add_user("alice", "engineering")
    spoofed = {**SPOOFED, "x-zerogate-anything": "forged"}  # Caddy strips the whole prefix
    with proxy_client(caddy) as http:
        r = http.get(
            "/pages/Home?rev=2",
            headers={"cookie": world.sign_in(alice), "accept": BROWSER, **spoofed},
        )
    assert r.status_code == 200, r.text
    (seen,) = echo.hits
    record = world.records[-1]
    assert seen == {
        "x-zerogate-user": ["alice"],  # the check's, not the client's "mallory"
        "x-zerogate-email": ["alice@example.test"],
        "x-zerogate-groups": ["engineering"],
        "x-zerogate-decision-id": [record.decision_id],
        "x-zerogate-route": [ROUTE],
    }
    assert (record.verdict, record.route, record.action) == ("allow", ROUTE, "GET")
    assert record.client_ip == "127.0.0.1"  # Caddy's own X-Forwarded-For, not 203.0.113.9


def test_caddy_browser_without_a_session_is_sent_to_sign_in(
    world: CheckWorld, echo: Echo, caddy: ProxyProcess
) -> None:
    assert_browser_sent_to_sign_in(caddy, world, echo)


def test_caddy_api_client_without_credentials_gets_a_bearer_challenge(
    echo: Echo, caddy: ProxyProcess
) -> None:
    assert_api_gets_a_bearer_challenge(caddy, echo)


def test_caddy_denied_user_gets_403_and_the_app_is_never_called(
    world: CheckWorld, echo: Echo, caddy: ProxyProcess
) -> None:
    carol = world.add_user("carol", "contractors")  # not an employee: no permit for the wiki
    with proxy_client(caddy) as http:
        r = http.get("/pages/Home", headers={"cookie": world.sign_in(carol), "accept": API})
    assert r.status_code == 403
    assert r.json()["decision_id"] == world.records[-1].decision_id  # the check's own body
    assert r.headers["x-zerogate-decision-id"] == world.records[-1].decision_id
    assert world.records[-1].verdict == "deny"
    assert echo.hits == []


def test_caddy_check_service_down_fails_closed(
    world: CheckWorld, echo: Echo, check_service: CheckService, caddy: ProxyProcess
) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    with proxy_client(caddy) as http:
        assert http.get("/pages/Home", headers={"cookie": cookie}).status_code == 200
        check_service.stop()
        r = http.get("/pages/Home", headers={"cookie": cookie})
    assert r.status_code == 502  # forward_auth's upstream is gone: Caddy answers, not the app
    assert len(echo.hits) == 1  # only the request before the check went down
