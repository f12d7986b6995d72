"""Step-up through the real gateway: Chromium, `zerogate up` (Envoy, the check service, the IdP)
and a route that wants a second factor at most five minutes old (`mfa_max_age_s`).

Ada's session is two hours old, second factor included: it is made through the store before
the visit (time in a real process cannot be moved), and handed to Chromium as the IdP's cookie.
The gateway sends her to the IdP to prove a factor again; she types her TOTP code, comes back
to the page she asked for, and the app sees her. Until then, the app sees nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests._serve import loopback_socket, serving
from tests._up import Up, cli, prepare, up_env, zerogate_up
from tests.browser.test_login_browser import browser, run
from tests.identity._support import GOOD_PASSWORD
from zerogate.app import identity_admin, mfa_admin, session_admin
from zerogate.config import load_settings
from zerogate.identity import SESSION_COOKIE_NAME

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from playwright.sync_api import Browser, Page  # noqa: E402

__all__ = ["browser"]
pytestmark = pytest.mark.e2e
MFA_MAX_AGE_S = 300


@dataclass
class Echo:
    """The protected app: answers with the identity headers it received, counts its visitors."""

    hits: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            user = request.headers.get("x-zerogate-user", "")
            self.hits.append(user)
            return JSONResponse({"path": request.url.path, "user": user})

        return Starlette(routes=[Route("/{path:path}", answer)])


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
def up(tmp_path: Path, echo: Echo) -> Iterator[Up]:
    """`zerogate up` with one route on localhost (the IdP's cookie reaches it) that wants a
    fresh second factor, and ada, an employee (the example policies let employees read it)."""
    env = up_env()
    with loopback_socket() as (sock, url), serving(echo.app(), sock):
        prepare(
            tmp_path,
            f'[routes.reports]\nfrom = "localhost/"\nto = "{url}"\npolicy = "wiki-web"\n'
            f"mfa_max_age_s = {MFA_MAX_AGE_S}\n",
        )
        cli(tmp_path, env, "user", "add", "ada", "--email", "ada@example.test",
            "--password-stdin", stdin=GOOD_PASSWORD + "\n")  # fmt: skip
        cli(tmp_path, env, "group", "add", "employees")
        cli(tmp_path, env, "group", "add-member", "employees", "ada")
        with zerogate_up(tmp_path, env) as running:
            yield running


@dataclass(frozen=True)
class Enrolled:
    totp_secret: str
    session_token: str


def _enrol_and_sign_in_long_ago(up: Up) -> Enrolled:
    """A TOTP authenticator for ada, and a session whose sign-in and second factor are two hours
    old, both made through the store of the running `zerogate up`."""
    environ = {**up_env(), "ZEROGATE_DATA_DIR": str(up.workdir / ".zerogate")}
    settings = load_settings(up.workdir / "zerogate.toml", environ=environ)
    now = datetime.now(UTC)
    enrolled_at = now - timedelta(minutes=2)  # its code's time step is spent, not the next one
    long_ago = now - timedelta(hours=2)

    async def prepare_ada() -> Enrolled:
        async with mfa_admin(settings) as (totp, _, _):
            begun = await totp.begin_enrolment("ada", label="phone", now=enrolled_at)
            code = pyotp.TOTP(begun.secret).at(enrolled_at)
            await totp.confirm_enrolment("ada", begun.credential.id, code, now=enrolled_at)
        async with identity_admin(settings) as directory:
            ada = await directory.get_user("ada")
        async with session_admin(settings) as sessions:
            new = await sessions.create(
                ada,
                amr=("pwd", "otp"),
                auth_time=long_ago,
                mfa_at=long_ago,
                ip="127.0.0.1",
                user_agent="pytest",
                now=now,
            )
        return Enrolled(begun.secret, new.token)

    return run(prepare_ada())


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()


def test_gateway_steps_up_an_old_second_factor_then_lets_the_person_in(
    page: Page, up: Up, echo: Echo
) -> None:
    ada = _enrol_and_sign_in_long_ago(up)
    page.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE_NAME,
                "value": ada.session_token,
                # A __Host- cookie must come from a secure origin: https://localhost is the
                # IdP's host (cookies ignore ports; Chromium sends Secure ones to localhost).
                "url": "https://localhost/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    target = f"{up.gateway}/reports?year=2026"
    page.goto(target)
    # Signed in, but the second factor is too old for this route: prove one again at the IdP.
    page.wait_for_url(f"{up.login}/login/mfa?**")
    assert echo.hits == []  # the app has not been reached
    page.get_by_label("Authentication code").fill(pyotp.TOTP(ada.totp_secret).now())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(target)
    body = page.locator("body").inner_text().replace(" ", "")
    assert '"user":"ada"' in body
    assert echo.hits
    assert set(echo.hits) == {"ada"}  # the page (and Chromium's favicon request), as ada
    # The step-up rotated the session (ASVS 5.0 7.2.4): the old token is not the one in use.
    cookies = {c["name"]: c["value"] for c in page.context.cookies(up.login)}
    assert cookies[SESSION_COOKIE_NAME] != ada.session_token
