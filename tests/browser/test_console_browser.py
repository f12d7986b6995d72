"""The admin console as an administrator meets it: `zerogate up` (Envoy, the check, the IdP,
the console), Debian's Chromium driven by Playwright, nothing made behind the scenes but the
second user and a group through the CLI.

The first administrator signs in with the password the banner shows, sets up an authenticator
app on the account page, and proves it to get into the console (`console.cedar`: admins with a
second factor). A second person, eve, asks the gateway for the demo app and is refused: the
console's live feed shows that denial with its explanation. The admin adds her to employees
from the console, she gets in, the admin revokes her session from the sessions page, and her
next request through Envoy is sent to sign in again. Every click is in the audit log.

Screenshots for docs/admin.md: docs/images/admin-overview.png, admin-decisions.png and
admin-sessions.png (written on every run, same names).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from tests._up import Up, cli, prepare, up_env, zerogate_up
from tests.browser.test_login_browser import browser
from tests.identity._support import GOOD_PASSWORD
from zerogate.audit import EventKind, Outcome, Search, search

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from playwright.sync_api import Browser, BrowserContext, Page, expect  # noqa: E402

__all__ = ["browser"]
pytestmark = pytest.mark.e2e
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 15_000


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    """`zerogate up` on an empty directory: it makes the first admin and shows the password."""
    env = up_env()
    prepare(tmp_path, "")
    with zerogate_up(tmp_path, env) as running:
        cli(tmp_path, env, "user", "add", "eve", "--email", "eve@example.test",
            "--password-stdin", stdin=GOOD_PASSWORD + "\n")  # fmt: skip
        cli(tmp_path, env, "group", "add", "employees")
        yield running


def _context(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="en-US", viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    return context


def _sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _admin_password(up: Up) -> str:
    found = re.search(r"admin login +admin / (\S+)", "".join(up.lines))
    assert found, "".join(up.lines)
    return found.group(1)


def _admin_into_console(page: Page, up: Up) -> None:
    """Sign in, set up TOTP on the account page, and prove it on the way into the console."""
    page.goto(f"{up.login}/admin/")
    page.wait_for_url(f"{up.login}/login?**")
    _sign_in(page, "admin", _admin_password(up))
    # Signed in, but without a second factor the console's policy asks for one (step-up),
    # and there is none yet: set one up first, as the banner says.
    page.wait_for_url(re.compile(r"/login/mfa\?"))
    page.goto(f"{up.login}/mfa/totp/enrol")
    secret = page.locator("#secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("recovery code", exact=False).first).to_be_visible()
    page.goto(f"{up.login}/admin/")
    page.wait_for_url(re.compile(r"/login/mfa\?"))
    # The enrolment spent this time step's code; RFC 6238 drift lets the next one in now.
    page.get_by_label("Authentication code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{up.login}/admin/")


def test_admin_watches_a_denial_then_revokes_a_session_from_the_console(
    browser: Browser, up: Up
) -> None:
    admin_context, eve_context = _context(browser), _context(browser)
    admin, eve = admin_context.new_page(), eve_context.new_page()
    try:
        _admin_into_console(admin, up)
        expect(admin.get_by_role("heading", name="Overview")).to_be_visible()
        expect(admin.get_by_text("Active sessions")).to_be_visible()
        admin.screenshot(path=str(IMAGES / "admin-overview.png"), full_page=True)

        # Eve is not an employee: the demo app's policy refuses her.
        admin.goto(f"{up.login}/admin/decisions")
        eve.goto(f"{up.gateway}/")
        eve.wait_for_url(f"{up.login}/login?**")
        _sign_in(eve, "eve", GOOD_PASSWORD)
        eve.wait_for_url(f"{up.gateway}/")
        refused = eve.goto(f"{up.gateway}/")
        assert refused is not None
        assert refused.status == 403
        decision_id = refused.headers["x-zerogate-decision-id"]

        # The live feed shows it within a second or two, with the reason and the explanation.
        row = admin.locator("#feed tbody tr", has_text=decision_id).first
        expect(row).to_be_visible()
        expect(row).to_contain_text('User::"eve"')
        expect(row).to_contain_text("no_permit")
        expect(row).to_contain_text("closest is `wiki-read`")
        admin.screenshot(path=str(IMAGES / "admin-decisions.png"), full_page=True)

        # The admin lets her in from the console (a group change reaches the check at once) ...
        admin.goto(f"{up.login}/admin/groups")
        employees = admin.locator('section[data-group="employees"]')
        employees.get_by_label("Add a member").fill("eve")
        employees.get_by_role("button", name="Add").click()
        expect(admin.locator("#status")).to_contain_text("group.member.add")
        expect(employees.locator(".members")).to_contain_text("eve")
        allowed = _eventually_status(eve, f"{up.gateway}/", 200)
        assert "Hello, eve" in eve.locator("body").inner_text(), allowed

        # ... then revokes her session from the sessions page.
        admin.goto(f"{up.login}/admin/sessions")
        session_row = admin.locator("tr[data-user='eve']").first
        expect(session_row).to_be_visible()
        admin.screenshot(path=str(IMAGES / "admin-sessions.png"), full_page=True)
        revoke = session_row.get_by_role("button", name="Revoke")
        revoke.click()
        session_row.get_by_role("button", name="Confirm").click()
        expect(admin.locator("#status")).to_contain_text("session.revoke")

        # Her next request through Envoy is sent to sign in again.
        for _ in range(40):
            eve.goto(f"{up.gateway}/")
            if eve.url.startswith(f"{up.login}/login"):
                break
            eve.wait_for_timeout(100)
        assert eve.url.startswith(f"{up.login}/login"), eve.url
    finally:
        admin_context.close()
        eve_context.close()

    # Both actions are in the audit log: intent, then outcome, by the admin (the change feed's
    # own entries about the same changes are there too, with no console phase).
    audit_dir = up.workdir / ".zerogate" / "audit"
    mine = [
        r
        for r in search(audit_dir, Search(kind=EventKind.ADMIN), limit=10_000)
        if "phase" in r.entry.attrs
    ]
    assert [(r.entry.action, r.entry.attrs["phase"], r.entry.decision) for r in mine] == [
        ("group.member.add", "intent", Outcome.ALLOW),
        ("group.member.add", "outcome", Outcome.SUCCESS),
        ("session.revoke", "intent", Outcome.ALLOW),
        ("session.revoke", "outcome", Outcome.SUCCESS),
    ]
    assert {r.entry.principal for r in mine} == {'User::"admin"'}
    assert mine[2].entry.resource.startswith('Session::"')


def _eventually_status(page: Page, url: str, status: int) -> int:
    """Load `url` until it answers `status` (a change reaches the check within a second)."""
    seen = 0
    for _ in range(40):
        answer = page.goto(url)
        seen = answer.status if answer is not None else 0
        if seen == status:
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"{url} answered {seen}, never {status}")
