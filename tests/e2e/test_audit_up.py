"""`zerogate up` keeps the audit log: a refused and an accepted sign-in, the check's decisions,
and a revocation made from the CLI all become entries, and `zerogate audit verify` proves the
log afterwards (issue 5 items 1, 2 and 4; standards OBS-01, OBS-02, LOG-*)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._up import cli, eventually, prepare, up_env, zerogate_up
from tests.idp._support import GOOD_PASSWORD, csrf_of

pytestmark = pytest.mark.e2e


def search(workdir: Path, env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    out = cli(workdir, env, "audit", "search", "--json", "--limit", "1000", *args)
    found: list[dict[str, Any]] = json.loads(out)["records"]
    return found


def test_sign_ins_decisions_and_revocations_are_in_a_log_that_verifies(tmp_path: Path) -> None:
    prepare(tmp_path, "")
    env = up_env(ZEROGATE_AUDIT__CHECKPOINT_INTERVAL_S="1")
    cli(
        tmp_path,
        env,
        "user",
        "add",
        "ada",
        "--email",
        "ada@example.test",
        "--password-stdin",
        stdin=GOOD_PASSWORD + "\n",
    )
    # Zerogate's cookies are Secure (browsers keep those on http://localhost; httpx does not),
    # so this client carries them itself.
    jar: dict[str, str] = {}

    def send(method: str, url: str, **options: Any) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        headers = {"accept": "text/html", **({"cookie": cookie} if cookie else {})}
        response = httpx.request(method, url, headers=headers, follow_redirects=False, **options)
        for line in response.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                jar[name] = value
            else:
                jar.pop(name, None)
        return response

    with zerogate_up(tmp_path, env) as up:
        # Not signed in: the check sends the browser to sign in (a decision all the same).
        assert send("GET", up.gateway + "/").status_code == 302
        page = send("GET", up.login + "/login")
        wrong = {"csrf": csrf_of(page), "username": "ada", "password": "not-" + GOOD_PASSWORD}
        assert send("POST", up.login + "/login", data=wrong).status_code == 401
        page = send("GET", up.login + "/login")
        right = {"csrf": csrf_of(page), "username": "ada", "password": GOOD_PASSWORD}
        assert send("POST", up.login + "/login", data=right).status_code == 303
        # ada is in no group: the demo route (employees only) is denied, with the reason.
        denied = send("GET", up.gateway + "/")
        assert denied.status_code == 403
        cli(tmp_path, env, "user", "disable", "ada")

        def logged(*args: str) -> list[dict[str, Any]]:
            return search(tmp_path, env, *args)

        eventually(lambda: len(logged("--kind", "login")) == 2, "both sign-in attempts")
        eventually(lambda: logged("--kind", "revocation"), "the revocation from the CLI")
        eventually(lambda: logged("--kind", "decision", "--decision", "deny"), "the denies")
    logins = search(tmp_path, env, "--kind", "login")
    assert [e["decision"] for e in logins] == ["failure", "success"]
    assert logins[0]["reason"] == "bad_password"
    assert logins[1]["principal"] == 'User::"ada"'
    assert GOOD_PASSWORD not in json.dumps(logins)
    decisions = search(tmp_path, env, "--kind", "decision")
    refused = [e for e in decisions if e.get("attrs", {}).get("verdict") == "unauthenticated"]
    assert refused  # the first request, before signing in
    [deny] = [
        e for e in decisions if e.get("principal") == 'User::"ada"' and e["decision"] == "deny"
    ]
    assert deny["resource"] == 'Route::"wiki-web"'
    assert deny["reason"]
    assert deny["policy_revision"]
    assert deny["decision_id"] in denied.text  # the 403 page names the entry to look up
    [revoked] = search(tmp_path, env, "--kind", "revocation")
    assert (revoked["action"], revoked["resource"]) == ("user_disabled", 'User::"ada"')
    verified = json.loads(cli(tmp_path, env, "audit", "verify", "--json"))
    assert verified["result"] == "ok"
    assert verified["unsigned"] == 0  # the close signed a checkpoint of everything
    assert verified["size"] >= len(logins) + len(decisions) + 1
