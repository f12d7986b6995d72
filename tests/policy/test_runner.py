"""Running policy tests: pinned clocks, pass/fail/error, expected vs actual, and coverage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count

from tests.policy._org import EXAMPLES, example_bundle
from zerogate.policy import (
    Bundle,
    CaseStatus,
    CompiledBundle,
    PolicyCoverage,
    TemplateCoverage,
    TestRun,
    compile_bundle,
    load_test_file,
    run_test_files,
    run_tests,
)

HEADER = """\
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
  - uid: User::"chris"
    attrs: {email: chris@contractor.example}
    parents: [Group::"contractors", Group::"engineering"]
cases:
"""


def _run(cases: str, bundle: CompiledBundle | None = None) -> TestRun:
    test_file = load_test_file("tests/t.yaml", HEADER + cases)
    return run_test_files(bundle or example_bundle(), [test_file])


def _case(name: str, principal: str, resource: str, expect: str, extra: str = "") -> str:
    return (
        f"  - name: {name}\n    principal: {principal}\n    action: GET\n"
        f"    resource: {resource}\n    expect: {expect}\n{extra}"
    )


def test_run_tests_example_bundle_passes_with_full_coverage() -> None:
    run = run_tests(compile_bundle(Bundle.from_dir(EXAMPLES)))
    assert run.ok
    assert run.count(CaseStatus.PASSED) == len(run.cases) > 40
    assert run.coverage.percent == 100.0
    assert run.coverage.uncovered == ()


def test_run_tests_pass_records_the_decision() -> None:
    run = _run(
        _case("reads", 'User::"pat"', 'Route::"wiki-web"', "allow", "    policies: [wiki-read]\n")
    )
    (result,) = run.cases
    assert result.passed
    assert result.decision is not None
    assert result.decision.policy_ids == ("wiki-read",)
    assert result.message == ""


def test_run_tests_failure_message_shows_expected_vs_actual_and_explanation() -> None:
    run = _run(_case("payroll", 'User::"pat"', 'Route::"payroll-api"', "allow"))
    (result,) = run.cases
    assert result.status is CaseStatus.FAILED
    lines = result.message.splitlines()
    assert lines[0] == "expected allow, got deny (no_permit)"
    assert (
        '  request:  User::"pat" GET Route::"payroll-api" at 2026-01-05T10:00:00+01:00' in lines[1]
    )
    assert "  expected: allow" in lines
    assert "  actual:   deny (no_permit), policies []" in lines
    assert any("closest permit `payroll-admins` (payroll.cedar:3)" in line for line in lines)
    assert result.decision is not None
    assert result.decision.explanation is not None


def test_run_tests_wrong_policies_fail_even_when_the_decision_matches() -> None:
    extra = "    policies: [payroll-admins]\n"
    run = _run(_case("reads", 'User::"pat"', 'Route::"wiki-web"', "allow", extra))
    (result,) = run.cases
    assert result.status is CaseStatus.FAILED
    assert "  expected: allow, policies [payroll-admins]" in result.message
    assert "  actual:   allow (allowed), policies [wiki-read]" in result.message
    assert "determined by permit `wiki-read` (wiki.cedar:2)" in result.message


def test_run_tests_wrong_outcome_fails() -> None:
    extra = "    outcome: forbidden\n"
    run = _run(_case("payroll", 'User::"pat"', 'Route::"payroll-api"', "deny", extra))
    (result,) = run.cases
    assert result.status is CaseStatus.FAILED
    assert result.message.splitlines()[0] == "expected deny (forbidden), got deny (no_permit)"


def test_run_tests_invalid_request_is_an_error_not_a_pass() -> None:
    extra = "    context: {authn: null}\n"
    run = _run(_case("no authn", 'User::"pat"', 'Route::"wiki-web"', "deny", extra))
    (result,) = run.cases
    assert result.status is CaseStatus.ERROR
    assert not run.ok
    (error,) = result.errors
    assert (error.code, error.loc) == ("request_invalid", "tests/t.yaml:16")
    assert "authn" in error.msg


def test_run_tests_entity_against_the_schema_is_an_error() -> None:
    extra = '    entities:\n      - uid: User::"nomail"\n'
    run = _run(_case("bad entity", 'User::"nomail"', 'Route::"wiki-web"', "deny", extra))
    (result,) = run.cases
    assert result.status is CaseStatus.ERROR
    assert result.errors[0].code == "entity_invalid"


def test_run_tests_unknown_expected_policy_is_an_error() -> None:
    extra = "    policies: [wiki-reed]\n"
    run = _run(_case("typo", 'User::"pat"', 'Route::"wiki-web"', "allow", extra))
    (result,) = run.cases
    assert result.status is CaseStatus.ERROR
    assert result.errors[0].code == "test_policy_unknown"
    assert "'wiki-reed' is not in the bundle" in result.errors[0].msg


def test_run_tests_case_clock_and_zone_drive_context_time() -> None:
    cases = _case(
        "sat", 'User::"chris"', 'Route::"wiki-web"', "deny", '    now: "2026-01-10T10:00:00"\n'
    )
    cases += _case("mon", 'User::"chris"', 'Route::"wiki-web"', "allow")
    cases += _case(
        "tokyo",
        'User::"chris"',
        'Route::"wiki-web"',
        "deny",
        '    now: "2026-01-05T17:30:00+01:00"\n    timezone: Asia/Tokyo\n',
    )
    run = _run(cases)
    assert [r.status for r in run.cases] == [CaseStatus.PASSED] * 3


def test_run_tests_file_level_errors_run_no_case() -> None:
    test_file = load_test_file(
        "tests/t.yaml",
        "bogus: 1\n" + HEADER + _case("x", 'User::"pat"', 'Route::"wiki-web"', "allow"),
    )
    run = run_test_files(example_bundle(), [test_file])
    assert run.cases == ()
    assert run.file_errors == 1
    assert not run.ok
    assert not run.empty


def test_run_tests_filter_is_case_insensitive_and_skips_other_files() -> None:
    bundle = example_bundle()
    a = load_test_file(
        "tests/a.yaml", HEADER + _case("Reads Wiki", 'User::"pat"', 'Route::"wiki-web"', "allow")
    )
    b = load_test_file(
        "tests/b.yaml", HEADER + _case("payroll", 'User::"pat"', 'Route::"payroll-api"', "deny")
    )
    run = run_test_files(bundle, [a, b], name_filter="reads wiki")
    assert [f.file for f in run.files] == ["tests/a.yaml"]
    assert run.name_filter == "reads wiki"
    assert run_test_files(bundle, [a, b], name_filter="zzz").empty


def test_run_tests_times_each_case_with_the_injected_timer() -> None:
    ticks: Iterator[int] = count()
    test_file = load_test_file(
        "tests/t.yaml", HEADER + _case("x", 'User::"pat"', 'Route::"wiki-web"', "allow")
    )
    run = run_test_files(example_bundle(), [test_file], timer=lambda: float(next(ticks)))
    assert run.cases[0].duration_s == 1.0
    assert run.duration_s == 3.0


def test_coverage_counts_hits_files_and_per_file_percent() -> None:
    cases = _case("a", 'User::"pat"', 'Route::"wiki-web"', "allow")
    cases += _case(
        "b", 'User::"pat"', 'Route::"wiki-web"', "deny", "    context: {risk: {score: 99}}\n"
    )
    run = _run(cases)
    coverage = run.coverage
    by_id: dict[str, PolicyCoverage] = {p.policy_id: p for p in coverage.policies}
    assert (by_id["wiki-read"].hits, by_id["wiki-read"].files) == (1, ("tests/t.yaml",))
    assert by_id["deny-high-risk"].covered
    assert not by_id["payroll-admins"].covered
    assert coverage.covered == 2
    assert coverage.percent == 200 / 9
    assert run.files[0].covered == ("deny-high-risk", "wiki-read")
    assert coverage.percent_of(run.files[0].covered) == 200 / 9
    # Listed in source order, so the table reads like the bundle.
    locations = [p.location for p in coverage.policies]
    assert locations == sorted(
        locations, key=lambda loc: (loc.split(":")[0], int(loc.split(":")[1]))
    )
    assert locations[0].startswith("admin.cedar:")


def test_coverage_covers_templates_through_their_links() -> None:
    files = {
        "groups.cedar": (
            '@id("group-reads")\n'
            'permit (principal in ?principal, action in Action::"read", resource in ?resource);\n'
            '@id("unused-template")\n'
            "permit (principal == ?principal, action, resource);\n"
        ),
        "links.json": json.dumps(
            [
                {
                    "id": "eng-wiki",
                    "template": "group-reads",
                    "values": {
                        "?principal": {"type": "Group", "id": "eng"},
                        "?resource": {"type": "App", "id": "wiki"},
                    },
                },
                {
                    "id": "ops-wiki",
                    "template": "group-reads",
                    "values": {
                        "?principal": {"type": "Group", "id": "ops"},
                        "?resource": {"type": "App", "id": "wiki"},
                    },
                },
            ]
        ),
        "entities.json": json.dumps(
            [
                {"uid": {"type": "App", "id": "wiki"}},
                {"uid": {"type": "Route", "id": "w"}, "parents": [{"type": "App", "id": "wiki"}]},
            ]
        ),
    }
    bundle = compile_bundle(Bundle(files))
    text = HEADER.replace('Group::"payroll-admin"', 'Group::"eng"') + _case(
        "eng reads", 'User::"pat"', 'Route::"w"', "allow", "    policies: [eng-wiki]\n"
    )
    run = run_test_files(bundle, [load_test_file("tests/t.yaml", text)])
    assert run.ok, run.cases[0].message
    coverage = run.coverage
    assert coverage.total == 2
    assert coverage.uncovered == ("ops-wiki",)
    by_id: dict[str, PolicyCoverage] = {p.policy_id: p for p in coverage.policies}
    assert by_id["eng-wiki"].template == "group-reads"
    templates: dict[str, TemplateCoverage] = {t.template_id: t for t in coverage.templates}
    assert templates["group-reads"].covered
    assert templates["group-reads"].links == ("eng-wiki", "ops-wiki")
    assert not templates["unused-template"].covered
    assert templates["unused-template"].links == ()


def test_run_tests_naming_a_template_instead_of_a_link_is_an_error() -> None:
    files = {
        "t.cedar": '@id("tpl")\npermit (principal == ?principal, action, resource);\n'
        '@id("p")\npermit (principal, action, resource);\n'
    }
    bundle = compile_bundle(Bundle(files))
    run = _run(_case("x", 'User::"pat"', 'Route::"r"', "allow", "    policies: [tpl]\n"), bundle)
    assert "is a template" in run.cases[0].errors[0].msg
