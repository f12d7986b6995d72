"""Debian's Chromium, driven by Playwright, signs in against the login pages on a real uvicorn.

The server runs in a thread of this process on a socket bound here (127.0.0.1, a free port) and
is browsed as http://localhost:PORT, where browsers keep Secure cookies without TLS. Time on the
server is a FixedClock that the test moves, so TOTP codes are computed, never waited for.
Screenshots for docs/login.md are written only with ZEROGATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pytest

from tests._serve import bound_socket, serving
from tests.identity._support import CHEAP, GOOD_PASSWORD, T0, make_directory
from tests.identity._support import run as run_here
from tests.policy._org import EXAMPLES
from zerogate.clock import FixedClock
from zerogate.identity import (
    SESSION_COOKIE_NAME,
    TOTP,
    Directory,
    PasswordHasher,
    RecoveryCodes,
    SessionInvalid,
    Sessions,
)
from zerogate.idp import create_app
from zerogate.store import open_store

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed: apt-get install chromium", allow_module_level=True
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.e2e
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
SCREENSHOTS = os.environ.get("ZEROGATE_SCREENSHOTS") == "1"
VIEWPORT = {"width": 560, "height": 720}
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run an identity call from the test: Playwright's sync API owns this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_here, coro).result()


@dataclass
class LiveLogin:
    """The running login pages and what the test needs to drive them."""

    base: str
    clock: FixedClock
    directory: Directory
    sessions: Sessions
    totp: TOTP

    def add_user(self, username: str) -> None:
        run(
            self.directory.add_user(
                username, f"{username}@example.test", password=GOOD_PASSWORD, now=self.clock.now()
            )
        )

    def enrol_totp(self, username: str) -> str:
        """A confirmed credential whose confirming code is a minute old (now's code is unspent)."""
        earlier = self.clock.now() - timedelta(seconds=60)
        enrolment = run(self.totp.begin_enrolment(username, label="phone", now=earlier))
        code = pyotp.TOTP(enrolment.secret).at(earlier)
        run(self.totp.confirm_enrolment(username, enrolment.credential.id, code, now=earlier))
        return enrolment.secret

    def code(self, secret: str) -> str:
        return str(pyotp.TOTP(secret).at(self.clock.now()))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "chromium is missing: CI installs it (scripts/system-deps.sh)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def live(make_database: Callable[..., str]) -> Iterator[LiveLogin]:
    store = open_store(make_database("sqlite"))
    listener = bound_socket()
    base = f"http://localhost:{listener.getsockname()[1]}"
    clock = FixedClock(at=T0)
    login = LiveLogin(base, clock, make_directory(store), Sessions(store), TOTP(store))
    app = create_app(
        directory=login.directory,
        sessions=login.sessions,
        totp=login.totp,
        recovery_codes=RecoveryCodes(store, hasher=PasswordHasher(CHEAP)),
        clock=clock,
        public_url=base,
        secret=os.urandom(32),
    )
    try:
        with serving(app, listener):
            yield login
    finally:
        listener.close()
        store.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light", locale="en-US")
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    try:
        yield opened
        # A Content-Security-Policy violation would show up here (the CSS must load).
        assert problems == []
    finally:
        context.close()


def _shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / name), full_page=True)


def _sign_in(page: Page, live: LiveLogin, username: str, *, shot: str | None = None) -> None:
    page.goto(f"{live.base}/login")
    assert page.evaluate("document.activeElement.id") == "username"  # autofocus
    if shot:
        _shot(page, shot)
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_browser_password_and_totp_sign_in_then_sign_out(page: Page, live: LiveLogin) -> None:
    live.add_user("ada")
    secret = live.enrol_totp("ada")
    _sign_in(page, live, "ada", shot="login.png")
    page.wait_for_url(f"{live.base}/login/mfa")
    assert page.evaluate("document.activeElement.id") == "code"
    _shot(page, "mfa.png")
    page.get_by_label("Authentication code").fill(live.code(secret))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live.base}/")
    assert "Signed in as" in page.locator("main").inner_text()
    # The stylesheet applied under the CSP: the card is capped at 44rem on the account page.
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "704px"
    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE_NAME]
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Lax")
    token = cookie["value"]
    assert run(live.sessions.resolve(token, now=live.clock.now())).amr == ("pwd", "otp")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live.base}/login?notice=signed_out")
    assert "You have signed out." in page.locator("main").inner_text()
    assert SESSION_COOKIE_NAME not in {c["name"] for c in page.context.cookies()}
    with pytest.raises(SessionInvalid):
        run(live.sessions.resolve(token, now=live.clock.now()))
    page.goto(f"{live.base}/")
    page.wait_for_url(f"{live.base}/login")


def test_browser_totp_enrolment_then_sign_in_with_it(page: Page, live: LiveLogin) -> None:
    live.add_user("grace")
    _sign_in(page, live, "grace")
    page.wait_for_url(f"{live.base}/")
    page.get_by_role("link", name="Set up an authenticator app").click()
    page.wait_for_url(f"{live.base}/mfa/totp/enrol")
    assert page.locator(".qr svg").count() == 1
    _shot(page, "totp-enrol.png")
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.get_by_label("Code from the app").fill(live.code(secret))
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Authenticator added").wait_for()
    assert page.locator(".codes li").count() == 10

    page.get_by_role("link", name="Continue").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live.base}/login?notice=signed_out")
    live.clock.advance(30)  # the next TOTP step: the enrolment's code is spent
    _sign_in(page, live, "grace")
    page.wait_for_url(f"{live.base}/login/mfa")
    page.get_by_label("Authentication code").fill(live.code(secret))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live.base}/")
    assert "On: 1 authenticator app, 10 recovery codes left." in page.locator("main").inner_text()


def test_browser_signs_in_at_the_url_zerogate_up_prints(page: Page, tmp_path: Path) -> None:
    """`zerogate user add`, then `zerogate up`: the printed sign-in URL works in a browser."""
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "policies")
    cli = [sys.executable, "-m", "zerogate.cli"]
    env = {**os.environ, "ZEROGATE_SERVER__PORT": "0", "ZEROGATE_GATEWAY__PORT": "0"}
    add = [*cli, "user", "add", "ada", "--email", "ada@example.test", "--password-stdin"]
    subprocess.run(add, input=GOOD_PASSWORD + "\n", text=True, cwd=tmp_path, env=env, check=True)
    proc = subprocess.Popen(
        [*cli, "up"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    watchdog = threading.Timer(60, proc.kill)  # a hung start fails the test instead of hanging
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the banner ends with this line; a crash ends the output
            seen.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        watchdog.cancel()
        found = re.search(r"sign in +(http://localhost:\d+)/login", "".join(seen))
        assert found, "".join(seen)
        base = found.group(1)
        page.goto(f"{base}/login")
        page.get_by_label("Username or email").fill("ada")
        page.get_by_label("Password").fill(GOOD_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/")
        assert "Signed in as" in page.locator("main").inner_text()
    finally:
        watchdog.cancel()
        proc.send_signal(signal.SIGINT)  # the process this test started, by its handle
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
