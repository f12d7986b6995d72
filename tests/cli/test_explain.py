"""`zerogate policy explain`: one decision with its reasons; exit 0 allow, 2 deny, 1 bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli._cli import CONTEXT, EXAMPLES, run, run_json, write
from zerogate.cli import ExitCode

PAT = json.dumps(
    [
        {
            "uid": 'User::"pat"',
            "attrs": {"email": "pat@example.test"},
            "parents": ['Group::"payroll-admin"'],
        }
    ]
)


def _explain(*extra: str | Path, context: dict[str, Any] | None = None) -> list[str | Path]:
    return [
        "policy",
        "explain",
        EXAMPLES,
        "--context",
        json.dumps(CONTEXT if context is None else context),
        "--now",
        "2026-01-05T10:00:00",
        "--timezone",
        "Europe/Berlin",
        *extra,
    ]


def test_explain_allow_exits_0_and_names_the_permit() -> None:
    result = run(*_explain("-p", 'User::"pat"', "-a", "GET", "-r", 'Route::"wiki-web"', "-e", PAT))
    assert result.exit_code == ExitCode.OK
    assert result.stdout.startswith("ALLOW")
    assert f"determined by permit `wiki-read` ({EXAMPLES.as_posix()}/wiki.cedar:2)" in result.stdout
    assert "at 2026-01-05T10:00:00+01:00 (Europe/Berlin)" in result.stdout


def test_explain_deny_exits_2_with_closest_permit_and_failed_conditions() -> None:
    args = _explain("-p", 'User::"pat"', "-a", "GET", "-r", 'Route::"payroll-api"', "-e", PAT)
    result = run(*args)
    assert result.exit_code == 2  # ExitCode.DENY
    out = result.stdout
    assert out.startswith("DENY")
    assert "no_permit" in out
    assert f"closest permit `payroll-admins` ({EXAMPLES.as_posix()}/payroll.cedar:3)" in out
    assert "context has device" in out


def test_explain_forbid_names_the_forbid_and_its_reason() -> None:
    context = {**CONTEXT, "network": {"ip": "203.0.113.9", "tls": True}}
    args = _explain(
        "-p", 'User::"pat"', "-a", "GET", "-r", 'Route::"wiki-web"', "-e", PAT, context=context
    )
    result = run(*args)
    assert result.exit_code == ExitCode.DENY
    assert "forbid `block-refused-range`" in result.stdout
    assert "requests from the refused address range are blocked" in result.stdout


def test_explain_json_has_decision_policies_and_explanation() -> None:
    args = _explain("-p", 'User::"ghost"', "-a", "GET", "-r", 'Route::"wiki-web"', "--json")
    code, body = run_json(*args)
    assert code == ExitCode.DENY
    assert body["decision"] == "deny"
    assert body["outcome"] == "policy_error"
    assert body["policies"] == ["divested-accounts"]
    assert body["errors"][0]["policy_id"] == "divested-accounts"
    guards = (EXAMPLES / "guards.cedar").read_text().splitlines()
    line = guards.index('@id("divested-accounts")') + 1
    assert body["explanation"]["forbids"][0]["location"] == f"guards.cedar:{line}"
    assert body["request"] == {
        "principal": 'User::"ghost"',
        "action": 'Action::"GET"',
        "resource": 'Route::"wiki-web"',
    }
    assert body["time"] == "2026-01-05T10:00:00+01:00"


def test_explain_json_allow_exits_0() -> None:
    args = _explain(
        "-p", 'User::"pat"', "-a", "HEAD", "-r", 'Route::"wiki-web"', "-e", PAT, "--json"
    )
    code, body = run_json(*args)
    assert code == ExitCode.OK
    assert (body["decision"], body["policies"], body["explanation"]) == (
        "allow",
        ["wiki-read"],
        None,
    )


def test_explain_reads_context_and_entities_from_files(tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx.json", json.dumps(CONTEXT))
    ents = write(tmp_path / "ents.json", PAT)
    result = run(
        "policy", "explain", EXAMPLES, "-p", 'User::"pat"', "-a", "GET", "-r", 'Route::"wiki-web"',
        "--context", f"@{ctx}", "--entities", f"@{ents}",
    )  # fmt: skip
    assert result.exit_code == ExitCode.OK


def test_explain_reports_every_input_problem_at_once() -> None:
    result = run(
        "policy", "explain", EXAMPLES, "-p", "User:pat", "-a", "two words", "-r", 'Route::"wiki-web"',
        "--context", "{bad", "--now", "yesterday", "--timezone", "Mars/Base",
    )  # fmt: skip
    assert result.exit_code == ExitCode.ERROR
    err = result.stderr
    for expected in (
        "--principal: expected an entity like",
        "--action: expected an entity",
        "--context: line 1:",
        "--now: not an ISO 8601 time",
        "--timezone: unknown zone 'Mars/Base'",
    ):
        assert expected in err


def test_explain_request_the_schema_rejects_exits_1_with_details() -> None:
    code, body = run_json(
        *_explain("-p", 'User::"pat"', "-a", "GET", "-r", 'Route::"wiki-web"', "--json", context={})
    )
    assert code == ExitCode.ERROR
    assert body["code"] == "request_invalid"
    assert "authn" in body["errors"][0]["msg"]


def test_explain_bad_entities_are_located_by_index() -> None:
    args = _explain(
        "-p", 'User::"pat"', "-a", "GET", "-r", 'Route::"wiki-web"', "-e", '[{"uid": 1}]', "--json"
    )
    code, body = run_json(*args)
    assert code == ExitCode.ERROR
    assert body["errors"][0]["loc"] == "--entities[0]"
    assert body["errors"][0]["code"] == "entity_invalid"


def test_explain_missing_context_file_is_an_input_error(tmp_path: Path) -> None:
    args: list[str | Path] = ["policy", "explain", EXAMPLES, "-p", 'User::"p"', "-a", "GET"]
    args += ["-r", 'Route::"x"', "--context", f"@{tmp_path / 'none.json'}", "--json"]
    code, body = run_json(*args)
    assert code == ExitCode.ERROR
    assert body["errors"][0]["code"] == "input_unreadable"


def test_explain_lists_each_missing_part_in_its_own_columns(tmp_path: Path) -> None:
    olga = '[{"uid":{"type":"User","id":"olga"},"attrs":{"email":"olga@example.test"},"parents":[{"type":"Group","id":"employees"}]}]'
    result = run(
        "policy",
        "explain",
        EXAMPLES,
        "--principal",
        'User::"olga"',
        "--action",
        "GET",
        "--resource",
        'Route::"payroll-api"',
        "--entities",
        olga,
        "--context",
        json.dumps(CONTEXT),
    )
    assert result.exit_code == ExitCode.DENY
    assert '✗ principal principal in Group::"payroll-admin"' in result.stdout
    assert "✗ when      context has device" in result.stdout
