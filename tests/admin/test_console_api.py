"""The admin API against a real store, the example policies, a real Checker and a real audit log.

Who gets in is decided by Zerogate's own check (`console.cedar`: admins with a second factor);
every action leaves its intent and outcome in the audit log before it answers, and fails
closed when the log cannot take them; state changes need JSON and the console's own origin.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.admin._support import LiveConsole, live_console
from tests.gateway.check._support import request
from tests.identity._support import run
from zerogate.audit import Outcome
from zerogate.gateway.check import DECISION_ID_HEADER
from zerogate.identity import SessionInvalid, session_id
from zerogate.policy import Bundle
from zerogate.store import Store


def _token(cookie: str) -> str:
    return cookie.rsplit("=", 1)[1]


def test_console_api_sends_strangers_to_sign_in_and_refuses_non_admins(
    console: LiveConsole,
) -> None:
    anonymous = console.get("/users", cookie="")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "unauthenticated"}
    page = console.page("", cookie="")
    assert page.status_code == 302
    assert "/login?" in page.headers["location"]
    employee = console.world.sign_in(  # an employee, signed in with a second factor
        run(console.world.directory.get_user("ada")), amr=("pwd", "otp"), mfa_ago_s=5
    )
    refused = console.get("/users", cookie=employee)
    assert refused.status_code == 403
    assert refused.json()["decision_id"] == refused.headers[DECISION_ID_HEADER]


def test_console_api_asks_an_admin_without_a_second_factor_to_step_up(
    console: LiveConsole,
) -> None:
    password_only = console.world.sign_in(console.admin, amr=("pwd",))
    api = console.get("/users", cookie=password_only)
    assert api.status_code == 401
    assert api.json() == {"error": "insufficient_user_authentication"}
    page = console.page("users", cookie=password_only)
    assert page.status_code == 302
    assert "/login/mfa?" in page.headers["location"]  # prove a factor, then come back


def test_console_revoke_session_writes_intent_then_outcome_and_ends_the_session(
    console: LiveConsole,
) -> None:
    ada = run(console.world.directory.get_user("ada"))
    cookie = console.world.sign_in(ada, amr=("pwd",))
    sid = session_id(_token(cookie))
    listed = console.get("/sessions")
    assert sid in [s["id"] for s in listed.json()["sessions"]]
    before = len(console.admin_entries())

    done = console.post(f"/sessions/{sid[:16]}/revoke", {"reason": "laptop reported stolen"})

    assert done.status_code == 200, done.text
    result = done.json()
    assert result["action"] == "session.revoke"
    assert result["sessions_revoked"] == 1
    entries = console.admin_entries()[before:]
    intent, outcome = entries
    assert (intent.seq, outcome.seq) == (result["audit"]["intent"], result["audit"]["outcome"])
    assert (intent.entry.decision, outcome.entry.decision) == (Outcome.ALLOW, Outcome.SUCCESS)
    for record in entries:
        assert record.entry.principal == 'User::"admin"'
        assert record.entry.action == "session.revoke"
        assert record.entry.resource == f'Session::"{sid[:16]}"'
        assert record.entry.attrs["reason"] == "laptop reported stolen"
    assert intent.entry.attrs["phase"] == "intent"
    assert outcome.entry.attrs["phase"] == "outcome"
    assert intent.entry.decision_id == done.headers[DECISION_ID_HEADER]  # the console's check
    with pytest.raises(SessionInvalid):
        run(console.world.sessions.resolve(_token(cookie), now=console.world.clock.now()))
    checked = console.world.check(request(cookie=cookie))  # the gateway's next check of it
    assert checked.status == 302  # sent to sign in again


def test_console_state_changes_need_json_from_the_console_origin(console: LiveConsole) -> None:
    before = len(console.admin_entries())
    no_origin = console.post("/users/ada/disable", origin=None)
    assert no_origin.status_code == 403
    assert no_origin.json()["code"] == "origin_mismatch"
    elsewhere = console.post("/users/ada/disable", origin="https://evil.example")
    assert elsewhere.status_code == 403
    as_text = console.post("/users/ada/disable", **{"content-type": "text/plain"})
    assert as_text.status_code == 415
    assert as_text.json()["code"] == "unsupported_media_type"
    unknown = console.post("/users/ada/disable", {"force": True})
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"code": "body_invalid", "loc": "body.force", "msg": "not a field of this request"}
    ]
    assert len(console.admin_entries()) == before  # nothing was attempted, nothing recorded
    assert not run(console.world.directory.get_user("ada")).disabled


def test_console_disable_enable_and_self_lockout_are_audited(console: LiveConsole) -> None:
    ada = run(console.world.directory.get_user("ada"))
    cookie = console.world.sign_in(ada, amr=("pwd",))
    assert console.post("/users/ada/disable").status_code == 200
    assert run(console.world.directory.get_user("ada")).disabled
    with pytest.raises(SessionInvalid):  # disabling revoked her sessions in the same change
        run(console.world.sessions.resolve(_token(cookie), now=console.world.clock.now()))
    users = {u["username"]: u for u in console.get("/users").json()["users"]}
    assert users["ada"]["status"] == "disabled"
    assert console.post("/users/ada/enable").status_code == 200
    assert not run(console.world.directory.get_user("ada")).disabled

    own = console.post("/users/admin/disable")
    assert own.status_code == 409
    assert own.json()["code"] == "admin_self_lockout"
    missing = console.post("/users/nobody/disable")
    assert missing.status_code == 404
    assert missing.json()["code"] == "user_not_found"

    outcomes = [
        (r.entry.action, r.entry.resource, r.entry.decision, r.entry.reason)
        for r in console.admin_entries()
        if r.entry.attrs["phase"] == "outcome"
    ]
    assert outcomes == [
        ("user.disable", 'User::"ada"', Outcome.SUCCESS, ""),
        ("user.enable", 'User::"ada"', Outcome.SUCCESS, ""),
        ("user.disable", 'User::"admin"', Outcome.FAILURE, "admin_self_lockout"),
        ("user.disable", 'User::"nobody"', Outcome.FAILURE, "user_not_found"),
    ]


def test_console_group_members_and_user_sessions(console: LiveConsole) -> None:
    added = console.post("/groups/engineering/members", {"user": "eve"})
    assert added.status_code == 200, added.text
    groups = {g["name"]: g["members"] for g in console.get("/groups").json()["groups"]}
    assert groups["engineering"] == ["eve"]
    again = console.post("/groups/engineering/members", {"user": "eve"})
    assert again.status_code == 409
    assert console.post("/groups/engineering/members/eve/remove").status_code == 200
    groups = {g["name"]: g["members"] for g in console.get("/groups").json()["groups"]}
    assert groups["engineering"] == []

    eve = run(console.world.directory.get_user("eve"))
    for _ in range(2):
        console.world.sign_in(eve, amr=("pwd",))
    assert len(console.get("/sessions?user=eve").json()["sessions"]) == 2
    revoked = console.post("/users/eve/sessions/revoke", {})
    assert revoked.json()["sessions_revoked"] == 2
    assert console.get("/sessions?user=eve").json()["sessions"] == []
    actions = [r.entry.action for r in console.admin_entries()]
    assert actions.count("group.member.add") == 4  # two calls, intent + outcome each
    assert actions.count("user.sessions.revoke") == 2


def test_console_clients_disable_and_enable(console: LiveConsole) -> None:
    made = console.run(
        console.clients.add(
            "Wiki",
            redirect_uris=["https://wiki.example.test/cb"],
            client_id="zg-wiki",
            now=console.world.clock.now(),
        )
    )
    assert made.secret is not None
    assert console.post("/clients/zg-wiki/disable").status_code == 200
    listed = console.get("/clients").json()["clients"]
    assert [(c["client_id"], c["disabled"]) for c in listed] == [("zg-wiki", True)]
    assert console.post("/clients/zg-wiki/enable").status_code == 200
    assert console.get("/clients").json()["clients"][0]["disabled"] is False
    assert console.post("/clients/zg-nope/disable").json()["code"] == "client_not_found"


def test_console_policy_revisions_diff_and_activation(console: LiveConsole) -> None:
    first = console.get("/policies").json()["activations"][0]["bundle"]
    changed = dict(run(console.policies.load(first)).files)
    changed["wiki.cedar"] = changed["wiki.cedar"].replace('Group::"employees"', 'Group::"staff"')
    second = Bundle(changed)
    console.run(console.policies.publish(second, actor="pytest"))
    history = console.get("/policies").json()
    assert [a["bundle"] for a in history["activations"]] == [second.hash, first]
    assert history["running"] == console.world.pdp.bundle_hash

    diff = console.get(f"/policies/{second.hash}/diff?against={first}").json()
    assert (diff["from"], diff["to"]) == (first, second.hash)
    (only,) = diff["files"]
    assert (only["name"], only["change"]) == ("wiki.cedar", "changed")
    assert '-  principal in Group::"employees",' in only["diff"]
    assert '+  principal in Group::"staff",' in only["diff"]

    back = console.post(f"/policies/{first}/activate")
    assert back.status_code == 200, back.text
    assert console.get("/policies").json()["activations"][0]["bundle"] == first
    assert run(console.policies.history(limit=1))[0].activated_by == 'User::"admin"'
    unknown = console.post(f"/policies/{'0' * 64}/activate")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "bundle_not_found"
    assert console.get(f"/policies/{'0' * 64}/diff").status_code == 404


def test_console_action_fails_closed_when_the_audit_log_is_down(console: LiveConsole) -> None:
    eve = run(console.world.directory.get_user("eve"))
    cookie = console.world.sign_in(eve, amr=("pwd",))
    console.run(console.audit.close())

    refused = console.post("/users/eve/sessions/revoke")

    assert refused.status_code == 503
    body = refused.json()
    assert body["code"] == "audit_unavailable"
    assert "was not done" in body["message"]
    # Not recorded, so not done: eve's session still works.
    run(console.world.sessions.resolve(_token(cookie), now=console.world.clock.now()))


def test_console_query_and_path_inputs_are_checked(console: LiveConsole) -> None:
    bad = console.get("/decisions?after=-1&limit=9999")
    assert bad.status_code == 400
    assert {e["loc"] for e in bad.json()["errors"]} == {"query.after", "query.limit"}
    twice = console.get("/decisions?after=1&after=2")
    assert twice.status_code == 400
    since = console.get("/audit?since=2026-01-05")  # a date is not a date-time
    assert since.status_code == 400
    not_hex = console.post("/sessions/NOT-HEX/revoke")
    assert not_hex.status_code == 400
    assert not_hex.json()["errors"][0]["loc"] == "path.session_id"
    unknown = console.get("/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"


def test_console_audit_search_and_verification(console: LiveConsole) -> None:
    console.post("/users/ada/disable")
    found = console.get("/audit?kind=admin&decision=success").json()["records"]
    assert [r["action"] for r in found] == ["user.disable"]
    newest_first = console.get("/audit?limit=3").json()["records"]
    assert [r["seq"] for r in newest_first] == sorted(
        (r["seq"] for r in newest_first), reverse=True
    )
    later = (console.world.clock.now() + timedelta(hours=1)).isoformat()
    assert console.get(f"/audit?since={later.replace('+00:00', 'Z')}").json()["records"] == []

    checked = console.get("/audit/verification").json()
    assert checked["status"] == "verified"
    assert checked["key_source"] == "log_directory"
    assert checked["size"] >= 2


def test_console_lists_only_live_sessions_on_both_backends(store: Store, tmp_path: Path) -> None:
    with live_console(store, tmp_path) as console:
        world = console.world
        ada, eve = (run(world.directory.get_user(n)) for n in ("ada", "eve"))
        idle = world.sign_in(eve, amr=("pwd",))
        revoked = world.sign_in(ada, amr=("pwd",))
        run(
            world.sessions.revoke(session_id(_token(revoked)), reason="test", now=world.clock.now())
        )
        world.clock.advance(20 * 60)
        fresh = world.sign_in(console.admin, amr=("pwd", "otp"), mfa_ago_s=0)
        world.clock.advance(15 * 60)  # eve's (and the first admin cookie's) idle timeout passed

        listed = console.get("/sessions", cookie=fresh).json()["sessions"]
        overview = console.get("/overview", cookie=fresh).json()

        assert [s["id"] for s in listed] == [session_id(_token(fresh))]
        assert listed[0]["username"] == "admin"
        assert listed[0]["mfa"] is True
        assert overview["active_sessions"] == 1
        assert session_id(_token(idle)) not in {s["id"] for s in listed}
