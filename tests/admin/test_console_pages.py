"""The console's pages: server-rendered from the API's reads, behind the same check, scripts
from our own origin only, and every button pointing at an API call."""

from __future__ import annotations

import re

import httpx

from tests.admin._support import LiveConsole
from tests.gateway.check._support import request
from tests.identity._support import run
from zerogate.admin import STATIC_FILES
from zerogate.policy import Bundle


def test_console_pages_render_for_an_admin_with_a_strict_policy(console: LiveConsole) -> None:
    for path in ("", "decisions", "users", "groups", "sessions", "clients", "policies", "audit"):
        page = console.page(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["cache-control"] == "no-store"
        assert "signed in as <strong>admin</strong>" in page.text
        assert "<script>" not in page.text  # no inline code: the CSP would refuse it
        assert 'src="/admin/static/admin.js"' in page.text


def test_console_pages_show_people_and_point_buttons_at_the_api(console: LiveConsole) -> None:
    eve = run(console.world.directory.get_user("eve"))
    console.world.sign_in(eve, amr=("pwd",))
    users = console.page("users").text
    assert 'data-call="users/ada/disable"' in users
    assert 'data-api="/admin/api/v1"' in users
    sessions = console.page("sessions?user=eve").text
    (sid,) = re.findall(r'data-session="([0-9a-f]{64})"', sessions)
    assert f'data-call="sessions/{sid}/revoke"' in sessions
    groups = console.page("groups").text
    assert 'data-call="groups/admins/members/admin/remove"' in groups


def test_console_decisions_page_explains_a_denial(console: LiveConsole) -> None:
    eve = run(console.world.directory.get_user("eve"))
    refused = console.check(request(cookie=console.world.sign_in(eve, amr=("pwd",))))
    page = console.page("decisions").text
    assert refused.decision_id in page
    assert "no_permit" in page
    assert "closest is `wiki-read`" in page


def test_console_audit_page_shows_verification_and_admin_actions(console: LiveConsole) -> None:
    console.post("/users/ada/disable")
    page = console.page("audit?kind=admin&decision=")
    assert page.status_code == 200
    assert "<strong>Verified</strong>" in page.text
    assert "key kept in the log's own directory" in page.text
    assert page.text.count("user.disable") == 2  # intent and outcome


def test_console_policies_page_diffs_a_revision(console: LiveConsole) -> None:
    running = console.world.pdp.bundle_hash
    files = dict(run(console.policies.load(running)).files)
    files["extra.cedar"] = '@id("extra")\npermit (principal, action, resource);\n'
    other = Bundle(files)
    console.run(console.policies.save(other, actor="pytest"))
    page = console.page(f"policies?diff={other.hash}").text
    assert "extra.cedar" in page
    assert '<span class="add">+@id(&#34;extra&#34;)</span>' in page


def test_console_static_files_need_no_session_and_unknown_pages_are_404(
    console: LiveConsole,
) -> None:
    for name, media in STATIC_FILES.items():
        asset = httpx.get(f"{console.base}/admin/static/{name}", timeout=10)
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(media)
    assert httpx.get(f"{console.base}/admin/static/x.js", timeout=10).status_code == 404
    missing = console.page("nowhere")
    assert missing.status_code == 404
    assert "not_found" in missing.text
    # /admin itself sends the browser to /admin/ (then to sign in, without a session).
    bare = httpx.get(f"{console.base}/admin", timeout=10)
    assert (bare.status_code, bare.headers["location"]) == (308, "/admin/")
