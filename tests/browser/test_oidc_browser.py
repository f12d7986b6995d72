"""The whole IdP as a person and a standard client meet it: Chromium signs in on our pages with a
password and TOTP, and the OpenID-certified `openid-client` (npm) completes the code flow,
validates the ID token and uses the tokens; then RP-initiated logout ends the session.

The server runs with the real clock (openid-client checks `iat`/`exp` against it), browsed as
http://localhost:PORT; the relying party's pages are a tiny real server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests._serve import bound_socket, loopback_socket, serving
from tests.identity._support import CHEAP, GOOD_PASSWORD
from tests.identity._support import run as run_here
from tests.peers._node import run_rp
from tests.peers.fixtures import node_peers
from zerogate.clock import SystemClock
from zerogate.identity import TOTP, Directory, PasswordHasher, RecoveryCodes, Sessions
from zerogate.identity.oidc import (
    ACR,
    ClientRegistry,
    OIDCProvider,
    ProviderSettings,
    revoke_grants_for_sessions,
)
from zerogate.idp import create_app
from zerogate.store import open_store
from zerogate.tokens import KeyRing

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from playwright.sync_api import Page, sync_playwright  # noqa: E402

__all__ = ["node_peers"]
pytestmark = pytest.mark.e2e
ARGS = ["--host-resolver-rules=MAP localhost 127.0.0.1", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def run(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_here, coro).result()


@dataclass
class LiveIdP:
    base: str
    directory: Directory
    totp: TOTP
    sessions: Sessions
    clients: ClientRegistry


@pytest.fixture
def idp(make_database: Callable[..., str]) -> Iterator[LiveIdP]:
    store = open_store(make_database("sqlite"))
    listener = bound_socket()
    base = f"http://localhost:{listener.getsockname()[1]}"
    clock = SystemClock()
    keys = KeyRing()
    keys.ensure_active(clock.now())
    sessions = Sessions(store, on_change=revoke_grants_for_sessions)
    live = LiveIdP(
        base,
        Directory(store, hasher=PasswordHasher(CHEAP)),
        TOTP(store),
        sessions,
        ClientRegistry(store),
    )
    app = create_app(
        directory=live.directory,
        sessions=sessions,
        totp=live.totp,
        recovery_codes=RecoveryCodes(store, hasher=PasswordHasher(CHEAP)),
        clock=clock,
        public_url=base,
        secret=os.urandom(32),
        oidc=OIDCProvider(store, keys, ProviderSettings(issuer=base)),
    )
    try:
        with serving(app, listener):
            yield live
    finally:
        listener.close()
        store.close()


@pytest.fixture
def page() -> Iterator[Page]:
    assert CHROMIUM, "chromium is missing: CI installs it (scripts/system-deps.sh)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context(locale="en-US")
            opened = context.new_page()
            opened.set_default_timeout(10_000)
            yield opened
        finally:
            browser.close()


@pytest.fixture
def rp() -> Iterator[str]:
    """The relying party's web origin: a real server that only says where the browser landed."""

    async def landed(request: Request) -> Response:
        return PlainTextResponse("relying party")

    app = Starlette(routes=[Route("/rp/{path:path}", landed)])
    with loopback_socket() as (sock, url), serving(app, sock):
        yield url


def _enrol_totp(idp: LiveIdP, username: str) -> str:
    earlier = SystemClock().now() - timedelta(seconds=90)
    enrolment = run(idp.totp.begin_enrolment(username, label="phone", now=earlier))
    run(
        idp.totp.confirm_enrolment(
            username, enrolment.credential.id, pyotp.TOTP(enrolment.secret).at(earlier), now=earlier
        )
    )
    return str(enrolment.secret)


def test_a_person_signs_in_with_password_and_totp_and_openid_client_gets_tokens(
    idp: LiveIdP, page: Page, rp: str, node_peers: None
) -> None:
    redirect, logged_out = f"{rp}/rp/callback", f"{rp}/rp/logged-out"
    alice = run(
        idp.directory.add_user(
            "alice", "alice@example.test", password=GOOD_PASSWORD, now=SystemClock().now()
        )
    )
    secret = _enrol_totp(idp, "alice")
    added = run(
        idp.clients.add(
            "Wiki",
            redirect_uris=[redirect],
            post_logout_redirect_uris=[logged_out],
            now=SystemClock().now(),
        )
    )
    cfg = {
        "issuer": idp.base,
        "client_id": added.client.client_id,
        "client_secret": added.secret,
        "redirect_uri": redirect,
        "insecure_http": True,
        "client_metadata": {"id_token_signed_response_alg": "ES256"},
    }
    start = run_rp(
        "authorize-url",
        {**cfg, "scope": "openid profile email groups", "acr_values": ACR.MFA.value},
    )

    page.goto(start["url"])
    page.wait_for_url(f"{idp.base}/login?**")
    page.get_by_label("Username or email").fill("alice")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{idp.base}/login/mfa**")
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{redirect}?**")
    callback = page.url

    tokens = run_rp(
        "callback",
        {
            **cfg,
            **{k: start[k] for k in ("state", "nonce", "code_verifier")},
            "callback_url": callback,
        },
    )
    claims = tokens["claims"]
    assert claims["sub"] == alice.id
    assert claims["acr"] == ACR.MFA
    assert claims["amr"] == ["pwd", "otp"]
    info = run_rp(
        "userinfo", {**cfg, "access_token": tokens["access_token"], "expected_sub": alice.id}
    )
    assert info["email"] == "alice@example.test"

    # Signed in already: a second client request completes without any page (SSO).
    again = run_rp("authorize-url", {**cfg, "scope": "openid"})
    page.goto(again["url"])
    page.wait_for_url(f"{redirect}?**")

    # RP-initiated logout with the ID token as hint ends the session and returns to the RP.
    logout = run_rp(
        "end-session-url",
        {
            **cfg,
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": logged_out,
            "state": "bye",
        },
    )
    page.goto(logout["url"])
    page.wait_for_url(f"{logged_out}?**")
    assert urlsplit(page.url).query == "state=bye"
    assert run_rp("introspect", {**cfg, "token": tokens["access_token"]})["active"] is False
    page.goto(f"{idp.base}/")
    page.wait_for_url(f"{idp.base}/login**")


def test_logout_without_a_hint_asks_the_person_first(idp: LiveIdP, page: Page) -> None:
    """OA-A13: a bare link to the logout endpoint cannot sign anyone out by itself."""
    run(
        idp.directory.add_user(
            "bob", "bob@example.test", password=GOOD_PASSWORD, now=SystemClock().now()
        )
    )
    page.goto(f"{idp.base}/login")
    page.get_by_label("Username or email").fill("bob")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{idp.base}/")
    page.goto(f"{idp.base}/end-session")
    assert "Sign out?" in page.locator("h1").inner_text()
    page.goto(f"{idp.base}/")
    assert "Signed in as" in page.locator("main").inner_text()  # merely visiting changed nothing
    page.goto(f"{idp.base}/end-session")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{idp.base}/login**")
