"""Debian's Chromium registers and uses passkeys on the login pages, with a CDP virtual authenticator.

The browser, the page and the way the server is run come from test_login_browser.py: uvicorn in a
thread on a loopback socket bound here, browsed as http://localhost:PORT (a secure context, so
WebAuthn works without TLS; the RP ID is `localhost`). The authenticator is Chromium's own
virtual one (DevTools `WebAuthn` domain): a platform authenticator holding discoverable
credentials, whose user verification the test switches on and off. The screenshot for
docs/login.md is written only with ZEROGATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page

import tests.browser.test_login_browser as login_browser
from tests._serve import bound_socket, serving
from tests.browser.test_login_browser import IMAGES, SCREENSHOTS, LiveLogin, run
from tests.identity._support import CHEAP, GOOD_PASSWORD, T0, make_directory
from zerogate.clock import FixedClock
from zerogate.identity import (
    SESSION_COOKIE_NAME,
    TOTP,
    Passkeys,
    PasswordHasher,
    RecoveryCodes,
    Sessions,
)
from zerogate.idp import create_app
from zerogate.store import open_store

pytestmark = pytest.mark.e2e
browser = login_browser.browser  # one Chromium per module, launched as the login tests do
page = login_browser.page  # a fresh context per test; fails on any console error (CSP)


@dataclass
class LivePasskeys(LiveLogin):
    passkeys: Passkeys

    def add_admin(self, username: str) -> None:
        self.add_user(username)
        run(self.directory.add_group("admins", now=self.clock.now()))
        run(self.directory.add_member("admins", username, now=self.clock.now()))

    def passkey_names(self, username: str) -> list[str | None]:
        return [p.name for p in run(self.passkeys.list(username))]

    def amr(self, page: Page) -> tuple[str, ...]:
        [token] = [c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE_NAME]
        return run(self.sessions.resolve(token, now=self.clock.now())).amr


@pytest.fixture
def live(make_database: Callable[..., str]) -> Iterator[LivePasskeys]:
    store = open_store(make_database("sqlite"))
    listener = bound_socket()
    base = f"http://localhost:{listener.getsockname()[1]}"
    clock = FixedClock(at=T0)
    passkeys = Passkeys(store, rp_id="localhost", rp_name="Zerogate", expected_origins=[base])
    live = LivePasskeys(base, clock, make_directory(store), Sessions(store), TOTP(store), passkeys)
    app = create_app(
        directory=live.directory,
        sessions=live.sessions,
        totp=live.totp,
        recovery_codes=RecoveryCodes(store, hasher=PasswordHasher(CHEAP)),
        clock=clock,
        public_url=base,
        secret=os.urandom(32),
        passkeys=passkeys,
    )
    try:
        with serving(app, listener):
            yield live
    finally:
        listener.close()
        store.close()


def _authenticator(page: Page, *, verified: bool) -> tuple[CDPSession, str]:
    """A virtual platform authenticator (like Touch ID) in this page's browser context."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options: dict[str, Any] = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": verified,
        "automaticPresenceSimulation": True,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, added["authenticatorId"]


def _verify_user(cdp: CDPSession, authenticator: str, verified: bool) -> None:
    cdp.send(
        "WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": verified}
    )


def _sign_in_with_password(page: Page, live: LiveLogin, username: str) -> None:
    page.goto(f"{live.base}/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{live.base}/")


def _add_passkey(page: Page, name: str) -> None:
    page.get_by_label("Name for a new passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()


def _sign_out(page: Page, live: LiveLogin) -> None:
    page.goto(f"{live.base}/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live.base}/login?notice=signed_out")


def _passkey_error(page: Page) -> str:
    status = page.locator("[data-passkey-status]")
    assert status.get_attribute("aria-live") == "assertive"
    status.locator(".error").wait_for()
    return status.inner_text()


def test_browser_passkey_register_then_sign_in_without_a_password(
    page: Page, live: LivePasskeys
) -> None:
    live.add_user("ada")
    cdp, authenticator = _authenticator(page, verified=True)
    _sign_in_with_password(page, live, "ada")
    _add_passkey(page, "Virtual key")
    page.get_by_role("heading", name="Passkey added").wait_for()
    assert page.locator(".codes li").count() == 10  # the first second factor: recovery codes
    assert live.passkey_names("ada") == ["Virtual key"]
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    [credential] = held["credentials"]
    assert credential["isResidentCredential"] is True  # discoverable: usable without a username
    assert credential["rpId"] == "localhost"
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(f"{live.base}/")
    assert "On: 1 passkey, 10 recovery codes left." in page.locator("main").inner_text()
    if SCREENSHOTS:
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.locator("#passkeys-heading").scroll_into_view_if_needed()
        page.screenshot(path=str(IMAGES / "passkey.png"), full_page=True)

    _sign_out(page, live)
    page.get_by_role("button", name="Use a passkey").click()  # no username, no password
    page.wait_for_url(f"{live.base}/")
    assert "Signed in as" in page.locator("main").inner_text()
    assert live.amr(page) == ("hwk", "user", "mfa")  # one device, user verified: multi-factor
    after = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    [stored] = run(live.passkeys.list("ada"))
    assert stored.sign_count == after["credentials"][0]["signCount"] > credential["signCount"]
    assert stored.last_used_at == live.clock.now()


def test_browser_admin_without_user_verification_is_refused(page: Page, live: LivePasskeys) -> None:
    live.add_admin("root")
    cdp, authenticator = _authenticator(page, verified=False)
    _sign_in_with_password(page, live, "root")
    options = page.request.post(
        f"{live.base}/mfa/passkey/register/options",
        form={"csrf": page.locator('form[data-passkey] input[name="csrf"]').input_value()},
    ).json()["options"]
    assert options["authenticatorSelection"]["userVerification"] == "required"  # an admin

    _add_passkey(page, "No PIN")
    assert "could not verify you" in _passkey_error(page)
    assert page.get_by_role("button", name="Add a passkey").is_enabled()  # try again is possible
    assert live.passkey_names("root") == []

    _verify_user(cdp, authenticator, True)  # the PIN is entered this time
    _add_passkey(page, "With PIN")
    page.get_by_role("heading", name="Passkey added").wait_for()
    assert live.passkey_names("root") == ["With PIN"]

    _verify_user(cdp, authenticator, False)
    _sign_out(page, live)
    page.get_by_role("button", name="Use a passkey").click()
    assert "could not verify you" in _passkey_error(page)
    assert page.url == f"{live.base}/login?notice=signed_out"
    assert SESSION_COOKIE_NAME not in {c["name"] for c in page.context.cookies()}
