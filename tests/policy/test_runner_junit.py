"""JUnit XML for policy test runs: parseable, one suite per file, failures with expected vs actual."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.policy._org import example_bundle
from zerogate.policy import junit_xml, load_test_file, run_test_files

FILE = """\
defaults:
  principal: User::"pat"
  action: GET
  context:
    authn: {mfa: true, amr: [pwd, otp], auth_age_s: 60, idp: zerogate}
    network: {ip: 198.51.100.7, tls: true}
    risk: {score: 5, signals: []}
entities:
  - uid: User::"pat"
    attrs: {email: pat@example.test}
    parents: [Group::"payroll-admin"]
cases:
  - name: reads the wiki
    resource: Route::"wiki-web"
    expect: allow
  - name: "payroll \\x01 without a device"
    resource: Route::"payroll-api"
    expect: allow
  - name: bad request
    resource: Route::"payroll-api"
    context: {network: null}
    expect: deny
"""


def _report(prefix: str = "") -> ET.Element:
    files = [
        load_test_file("tests/a.yaml", FILE),
        load_test_file("tests/broken.yaml", "cases: [\n"),
    ]
    run = run_test_files(example_bundle(), files)
    return ET.fromstring(junit_xml(run, path_prefix=prefix))


def test_junit_xml_parses_with_totals_on_the_root() -> None:
    root = _report()
    assert root.tag == "testsuites"
    # 3 cases + 1 unreadable file; 1 failure; 1 case error + 1 file error.
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "2")


def test_junit_xml_has_one_suite_per_file_and_one_case_per_case() -> None:
    suites = _report().findall("testsuite")
    assert [s.get("name") for s in suites] == ["tests/a.yaml", "tests/broken.yaml"]
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == [
        "reads the wiki",
        "payroll \ufffd without a device",  # control characters cannot be in XML 1.0
        "bad request",
    ]
    assert {c.get("classname") for c in cases} == {"tests.a"}
    assert [c.get("line") for c in cases] == ["13", "16", "19"]


def test_junit_xml_failure_carries_expected_vs_actual() -> None:
    failure = _report().find("testsuite/testcase[@line='16']/failure")
    assert failure is not None
    assert failure.get("message") == "expected allow, got deny (no_permit)"
    assert "actual:   deny (no_permit), policies []" in (failure.text or "")
    assert "closest permit `payroll-admins`" in (failure.text or "")


def test_junit_xml_errors_carry_their_code() -> None:
    root = _report()
    error = root.find("testsuite/testcase[@name='bad request']/error")
    assert error is not None
    assert error.get("type") == "request_invalid"
    broken = root.find("testsuite[@name='tests/broken.yaml']/testcase/error")
    assert broken is not None
    assert broken.get("type") == "test_yaml_invalid"


def test_junit_xml_properties_and_path_prefix() -> None:
    suite = _report("examples/policies").find("testsuite")
    assert suite is not None
    assert suite.get("file") == "examples/policies/tests/a.yaml"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["zerogate.policy_coverage"] == "11.1"
    assert len(props["zerogate.bundle_hash"] or "") == 64
