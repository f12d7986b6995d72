"""`zerogate policy test`: summaries, expected-vs-actual failures, errors, coverage, JUnit, exit codes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tests.cli._cli import EXAMPLES, copy_examples, run, run_json, write
from zerogate.cli import ExitCode

FAILING = """\
now: "2026-01-05T10:00:00+01:00"
timezone: Europe/Berlin
defaults:
  context:
    authn: {mfa: true, amr: [pwd, otp], auth_age_s: 60, idp: zerogate}
    network: {ip: 198.51.100.7, tls: true}
    risk: {score: 5, signals: []}
entities:
  - uid: User::"pat"
    attrs: {email: pat@example.test}
    parents: [Group::"payroll-admin"]
cases:
  - name: passes
    principal: User::"pat"
    action: GET
    resource: Route::"wiki-web"
    expect: allow
  - name: payroll without a device is expected to pass but does not
    principal: User::"pat"
    action: GET
    resource: Route::"payroll-api"
    expect: allow
  - name: request the schema rejects
    principal: User::"pat"
    action: GET
    resource: Route::"payroll-api"
    context: {risk: null}
    expect: deny
"""


def _bundle_with(tmp_path: Path, name: str, text: str) -> Path:
    bundle = copy_examples(tmp_path)
    write(bundle / "tests" / name, text)
    return bundle


def test_policy_test_examples_all_pass_with_full_coverage() -> None:
    result = run("policy", "test", EXAMPLES)
    assert result.exit_code == ExitCode.OK
    assert "failed" in result.stdout
    assert " 0 failed, 0 errors" in result.stdout
    assert "Policy coverage: 9/9 policies (100.0%)" in result.stdout


def test_policy_test_failure_shows_expected_vs_actual_and_why(tmp_path: Path) -> None:
    bundle = _bundle_with(tmp_path, "zz.yaml", FAILING)
    result = run("policy", "test", bundle, "--filter", "payroll without")
    assert result.exit_code == ExitCode.ERROR
    out = result.stdout
    assert f"FAIL  {bundle.as_posix()}/tests/zz.yaml:18  payroll without a device" in out
    assert "expected allow, got deny (no_permit)" in out
    assert "  expected: allow" in out
    assert "  actual:   deny (no_permit), policies []" in out
    assert "closest permit `payroll-admins` (payroll.cedar:3)" in out
    assert "needs when: context has device" in out
    assert "0 passed, 1 failed, 0 errors" in out


def test_policy_test_invalid_request_is_an_error_with_its_location(tmp_path: Path) -> None:
    bundle = _bundle_with(tmp_path, "zz.yaml", FAILING)
    result = run("policy", "test", bundle, "-k", "schema rejects")
    assert result.exit_code == ExitCode.ERROR
    assert (
        f"ERROR {bundle.as_posix()}/tests/zz.yaml:23  request the schema rejects" in result.stdout
    )
    assert "[request_invalid]" in result.stdout
    assert "0 passed, 0 failed, 1 error in" in result.stdout


def test_policy_test_bad_test_file_reports_every_problem_with_lines(tmp_path: Path) -> None:
    text = "now: soon\nbogus: 1\ncases:\n  - name: x\n    principal: User:pat\n    expect: maybe\n"
    bundle = _bundle_with(tmp_path, "zz.yaml", text)
    result = run("policy", "test", bundle)
    assert result.exit_code == ExitCode.ERROR
    out = result.stdout
    assert "Traceback" not in result.output
    assert f"ERROR {bundle.as_posix()}/tests/zz.yaml  not run" in out
    assert "tests/zz.yaml:1: `now` must be an ISO 8601 time" in out
    assert "tests/zz.yaml:2: unknown test file key 'bogus'" in out


def test_policy_test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    bundle = _bundle_with(tmp_path, "zz.yaml", "cases:\n  - name: [unclosed\n")
    code, body = run_json("policy", "test", bundle, "--json")
    assert code == ExitCode.ERROR
    (broken,) = [f for f in body["files"] if f["file"] == "tests/zz.yaml"]
    assert broken["errors"][0]["code"] == "test_yaml_invalid"
    assert broken["errors"][0]["loc"].startswith("tests/zz.yaml:")


def test_policy_test_json_has_summary_cases_and_coverage(tmp_path: Path) -> None:
    bundle = _bundle_with(tmp_path, "zz.yaml", FAILING)
    code, body = run_json("policy", "test", bundle, "--json")
    assert code == ExitCode.ERROR
    assert body["ok"] is False
    assert body["summary"]["failed"] == 1
    assert body["summary"]["errors"] == 1
    (mine,) = [f for f in body["files"] if f["file"] == "tests/zz.yaml"]
    failed = mine["cases"][1]
    assert failed["status"] == "failed"
    assert failed["line"] == 18
    assert failed["expected"] == {"decision": "allow", "policies": None, "outcome": None}
    assert failed["actual"]["decision"] == "deny"
    assert failed["actual"]["outcome"] == "no_permit"
    assert failed["actual"]["explanation"]["closest_permits"][0]["policy_id"] == "payroll-admins"
    assert body["coverage"]["percent"] == 100.0


def test_policy_test_coverage_names_policies_no_case_determined(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    (bundle / "tests" / "guards.yaml").unlink()
    code, body = run_json("policy", "test", bundle, "--json")
    assert code == ExitCode.OK
    coverage = body["coverage"]
    assert coverage["covered"] == 5
    assert coverage["total"] == 9
    assert coverage["percent"] == 55.6
    assert coverage["uncovered"] == [
        "deny-high-risk",
        "contractors-working-hours",
        "block-refused-range",
        "divested-accounts",
    ]
    by_id = {p["policy_id"]: p for p in coverage["policies"]}
    assert by_id["wiki-read"]["files"] == ["tests/wiki.yaml"]
    assert by_id["deny-high-risk"]["hits"] == 0


def test_policy_test_fail_under_fails_a_passing_run_with_low_coverage(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    (bundle / "tests" / "guards.yaml").unlink()
    result = run("policy", "test", bundle, "--fail-under", "90")
    assert result.exit_code == ExitCode.ERROR
    assert "policy coverage 55.6% is below --fail-under 90%" in result.stdout
    assert "never determining:" in result.stdout


def test_policy_test_no_coverage_hides_the_coverage_table() -> None:
    result = run("policy", "test", EXAMPLES, "--no-coverage")
    assert result.exit_code == ExitCode.OK
    assert "Policy coverage" not in result.stdout


def test_policy_test_without_test_files_exits_4(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path, tests=False)
    result = run("policy", "test", bundle)
    assert result.exit_code == 4  # ExitCode.NO_TESTS
    assert "no tests" in result.stderr


def test_policy_test_filter_matching_nothing_exits_4() -> None:
    code, body = run_json("policy", "test", EXAMPLES, "--filter", "no such case", "--json")
    assert code == ExitCode.NO_TESTS
    assert body["code"] == "no_tests"
    assert "no such case" in body["message"]


def test_policy_test_filter_is_a_case_insensitive_substring() -> None:
    code, body = run_json("policy", "test", EXAMPLES, "--filter", "CONTRACTOR ON", "--json")
    assert code == ExitCode.OK
    names = [c["name"] for f in body["files"] for c in f["cases"]]
    assert names
    assert all("contractor on" in n for n in names)


def test_policy_test_verbose_lists_passing_cases() -> None:
    result = run("policy", "test", EXAMPLES, "-v", "-k", "Saturday")
    assert result.exit_code == 0
    assert "PASS " in result.stdout
    assert "tests/guards.yaml:" in result.stdout


def test_policy_test_invalid_bundle_exits_1_with_policy_errors(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    write(bundle / "zz.cedar", '@id("x") permit (principal, action, resource) when { };\n')
    result = run("policy", "test", bundle)
    assert result.exit_code == ExitCode.ERROR
    assert "zz.cedar:1:" in result.stderr


def test_policy_test_junit_has_a_suite_per_file_and_failure_text(tmp_path: Path) -> None:
    bundle = _bundle_with(tmp_path, "zz.yaml", FAILING)
    report = tmp_path / "out" / "junit.xml"
    result = run("policy", "test", bundle, "--junit", report)
    assert result.exit_code == ExitCode.ERROR
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {
        "tests/admin.yaml",
        "tests/console.yaml",
        "tests/guards.yaml",
        "tests/payroll.yaml",
        "tests/wiki.yaml",
        "tests/zz.yaml",
    }
    mine = suites["tests/zz.yaml"]
    assert (mine.get("tests"), mine.get("failures"), mine.get("errors")) == ("3", "1", "1")
    failure = mine.find(
        "testcase[@name='payroll without a device is expected to pass but does not']/failure"
    )
    assert failure is not None
    assert failure.get("message") == "expected allow, got deny (no_permit)"
    assert "closest permit `payroll-admins`" in (failure.text or "")
    error = mine.find("testcase[@name='request the schema rejects']/error")
    assert error is not None
    assert error.get("type") == "request_invalid"
    assert mine.get("file") == f"{bundle.as_posix()}/tests/zz.yaml"


def test_policy_test_junit_unwritable_path_is_an_error(tmp_path: Path) -> None:
    blocker = write(tmp_path / "file", "x")
    code, body = run_json("policy", "test", EXAMPLES, "--junit", blocker / "junit.xml", "--json")
    assert code == ExitCode.ERROR
    assert body["code"] == "output_unwritable"
