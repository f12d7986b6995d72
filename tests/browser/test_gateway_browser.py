"""`zerogate up` as a person meets it: the demo app behind a real Envoy, signing in on the way.

Chromium asks the gateway for the demo app, is sent to the sign-in page, signs in, comes back
through the IdP's `/continue` and sees the app greet it by name with the identity headers the
check service set. A user outside the policy gets the 403 page with a decision id; an API client
without a token gets a Bearer challenge; a spoofed identity header never reaches the app.

The gateway serves https with a leaf of the local CA `zerogate up` created. Chromium accepts
exactly that leaf's public key (`--ignore-certificate-errors-spki-list`, a pin, not "ignore
every error"); httpx trusts the CA file the banner names and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests._serve import loopback_socket, serving
from tests._up import envoy_children, running_envoys
from tests.browser.test_login_browser import ARGS, browser
from tests.identity._support import GOOD_PASSWORD
from tests.policy._org import EXAMPLES

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from playwright.sync_api import Browser, BrowserType, Page, sync_playwright  # noqa: E402

__all__ = ["browser"]
pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "zerogate.cli"]


def _cli(tmp_path: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [*CLI, *args],
        input=stdin,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def up(tmp_path: Path, config: str) -> Iterator[dict[str, str]]:
    """`zerogate up` in a fresh directory, with ada (an employee) and eve (not one)."""
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "policies")
    (tmp_path / "zerogate.toml").write_text(config)
    env = {**os.environ, "ZEROGATE_SERVER__PORT": "0", "ZEROGATE_GATEWAY__PORT": "0"}
    for name in ("ada", "eve"):
        _cli(
            tmp_path,
            env,
            "user",
            "add",
            name,
            "--email",
            f"{name}@example.test",
            "--password-stdin",
            stdin=GOOD_PASSWORD + "\n",
        )
    _cli(tmp_path, env, "group", "add", "employees")
    _cli(tmp_path, env, "group", "add-member", "employees", "ada")
    proc = subprocess.Popen(
        [*CLI, "up"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    envoys: set[int] = set()
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        watchdog.cancel()
        text = "".join(seen)
        login = re.search(r"sign in +(http://localhost:\d+)/login", text)
        gateway = re.search(r"gateway +(https://localhost:(\d+))/", text)
        ca = re.search(r"local CA +(\S+)", text)
        assert login, text
        assert gateway, text
        assert ca, text
        assert f"curl --cacert {ca.group(1)} {gateway.group(1)}/" in text  # trust steps
        envoys = envoy_children(proc.pid)
        assert len(envoys) == 1, envoys
        yield {
            "login": login.group(1),
            "gateway": gateway.group(1),
            "ca": ca.group(1),
            "spki": _served_spki(int(gateway.group(2)), ca.group(1)),
        }
    finally:
        watchdog.cancel()
        proc.send_signal(signal.SIGINT)  # the process this test started; it stops its Envoy
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert running_envoys(envoys) == set(), "zerogate up left its Envoy running"


def _served_spki(port: int, ca_file: str) -> str:
    """The served leaf's SPKI pin (base64 SHA-256), once it verifies against the banner's CA."""
    context = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    key = x509.load_der_x509_certificate(der).public_key()
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


@pytest.fixture(scope="module")
def chromium() -> Iterator[BrowserType]:
    with sync_playwright() as playwright:
        yield playwright.chromium


@pytest.fixture
def page(chromium: BrowserType, up: dict[str, str]) -> Iterator[Page]:
    """A fresh Chromium that accepts the gateway's own leaf by its key, no other certificate
    (a 403 is expected here, so console errors are not failures)."""
    pinned = [*ARGS, f"--ignore-certificate-errors-spki-list={up['spki']}"]
    launched: Browser = chromium.launch(executable_path=CHROMIUM, headless=True, args=pinned)
    context = launched.new_context(locale="en-US")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()
        launched.close()


def _sign_in(page: Page, username: str) -> None:
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_person_signs_in_through_the_gateway_and_reaches_the_demo_app(
    page: Page, up: dict[str, str]
) -> None:
    page.goto(f"{up['gateway']}/reports?year=2026")
    page.wait_for_url(f"{up['login']}/login?**")
    _sign_in(page, "ada")
    page.wait_for_url(f"{up['gateway']}/reports?year=2026")
    text = page.locator("body").inner_text()
    assert "Hello, ada" in text
    assert "x-zerogate-decision-id" in text
    assert "employees" in text  # x-zerogate-groups


def test_someone_outside_the_policy_gets_the_explained_403(page: Page, up: dict[str, str]) -> None:
    page.goto(f"{up['gateway']}/")
    page.wait_for_url(f"{up['login']}/login?**")
    _sign_in(page, "eve")
    page.wait_for_url(f"{up['gateway']}/")
    landed = page.goto(f"{up['gateway']}/")
    assert landed is not None
    assert landed.status == 403
    body = page.locator("body").inner_text()
    assert "Hello" not in body
    assert re.search(r"[0-9a-f]{16,}", body), body  # the decision id to quote to support


def test_api_clients_get_a_bearer_challenge_and_cannot_spoof_identity(up: dict[str, str]) -> None:
    reply = httpx.get(
        f"{up['gateway']}/api/whoami",
        headers={"Accept": "application/json", "x-zerogate-user": "admin"},
        timeout=10,
        verify=ssl.create_default_context(cafile=up["ca"]),  # our local CA, nothing else
    )
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    assert "identity" not in reply.text  # the demo app (which echoes identity) was not reached


@pytest.fixture
def echo_upstream() -> Iterator[str]:
    """An app of the user's own: it answers with the identity headers it received."""

    async def echo(request: Request) -> Response:
        seen = {k: v for k, v in request.headers.items() if k.startswith("x-zerogate-")}
        return JSONResponse({"path": request.url.path, "seen": seen})

    app = Starlette(routes=[Route("/{path:path}", echo)])
    with loopback_socket() as (sock, url), serving(app, sock):
        yield url


@pytest.fixture
def config(echo_upstream: str, request: pytest.FixtureRequest) -> str:
    if "own_host" not in request.node.name:
        return ""
    return f'[routes.app]\nfrom = "app.localhost/"\nto = "{echo_upstream}"\npolicy = "wiki-web"\n'


def test_own_host_route_signs_in_through_the_handoff(page: Page, up: dict[str, str]) -> None:
    """A route on its own host never sees the IdP's cookie: the IdP hands the session over
    with a one-time code, and the gateway sets a cookie for that host."""
    app = up["gateway"].replace("localhost", "app.localhost")
    page.goto(f"{app}/inbox?folder=1")
    page.wait_for_url(f"{up['login']}/login?**")
    _sign_in(page, "ada")
    page.wait_for_url(f"{app}/inbox?folder=1")
    body = page.locator("body").inner_text()
    assert '"x-zerogate-user":"ada"' in body.replace(" ", "")
    cookies = {c["name"]: c for c in page.context.cookies(app)}
    assert cookies["__Host-zerogate_gw"]["httpOnly"] is True
    assert "__Host-zerogate_session" not in cookies  # the IdP's own cookie stays on its host
    # Signing out at the IdP ends access on the app host too (its cookie names that session).
    page.goto(f"{up['login']}/logout")
    page.get_by_role("button", name="Sign out").click()
    # Revocation reaches the gateway within a second (the change feed, then its caches).
    for _ in range(20):
        page.goto(f"{app}/inbox")
        if page.url.startswith(f"{up['login']}/login"):
            break
        page.wait_for_timeout(100)
    assert page.url.startswith(f"{up['login']}/login"), page.url
