"""Reading YAML test files: lines, defaults, shorthands, and every problem located at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerogate.errors import InvalidInput
from zerogate.policy import EntityUID, Outcome, TestFile, load_test_file, parse_uid

CONTEXT = """\
defaults:
  context:
    authn: {mfa: true, amr: [pwd, otp], auth_age_s: 60, idp: zerogate}
    network: {ip: 198.51.100.7, tls: true}
    risk: {score: 5, signals: []}
"""


def _load(text: str) -> TestFile:
    return load_test_file("tests/t.yaml", text)


def _codes(test_file: TestFile) -> list[tuple[str, str]]:
    found = [(e.loc, e.code) for e in test_file.errors]
    found += [(e.loc, e.code) for c in test_file.cases for e in c.errors]
    return found


def test_load_test_file_reads_a_case_with_its_line() -> None:
    f = _load(
        CONTEXT
        + 'cases:\n  - name: one\n    principal: User::"pat"\n    action: GET\n'
        + '    resource: Route::"wiki-web"\n    expect: allow\n    policies: [wiki-read]\n'
    )
    assert f.errors == ()
    (case,) = f.cases
    assert (case.name, case.line, case.location) == ("one", 7, "tests/t.yaml:7")
    assert case.request is not None
    assert case.request.principal == EntityUID("User", "pat")
    assert case.request.action == EntityUID("Action", "GET")
    assert case.request.context["risk"] == {"score": 5, "signals": []}
    assert case.expect is not None
    assert (case.expect.allowed, case.expect.policies) == (True, ("wiki-read",))


def test_load_test_file_merges_defaults_and_null_deletes() -> None:
    f = _load(
        CONTEXT
        + '  principal: {type: User, id: pat}\n  action: GET\n  resource: Route::"r"\n'
        + "cases:\n  - name: x\n    context: {authn: {mfa: false}, risk: null}\n    expect: deny\n"
    )
    (case,) = f.cases
    assert case.request is not None
    assert case.request.context["authn"] == {
        "mfa": False,
        "amr": ["pwd", "otp"],
        "auth_age_s": 60,
        "idp": "zerogate",
    }
    assert "risk" not in case.request.context
    assert case.request.principal == EntityUID("User", "pat")


def test_load_test_file_expands_an_action_list() -> None:
    f = _load(
        CONTEXT
        + 'cases:\n  - name: reads\n    principal: User::"p"\n    action: [GET, HEAD]\n'
        + '    resource: Route::"r"\n    expect: allow\n'
    )
    assert [c.name for c in f.cases] == ["reads [GET]", "reads [HEAD]"]
    assert {c.line for c in f.cases} == {7}


def test_load_test_file_pins_now_with_the_file_zone_for_local_times() -> None:
    f = _load(
        'now: "2026-01-10T07:59:00"\ntimezone: Europe/Berlin\n' + CONTEXT
        + 'cases:\n  - name: x\n    principal: User::"p"\n    action: GET\n    resource: Route::"r"\n'
        + '    expect: deny\n  - name: y\n    principal: User::"p"\n    action: GET\n'
        + '    resource: Route::"r"\n    expect: deny\n    now: 2026-01-10T12:00:00Z\n'
    )  # fmt: skip
    first, second = f.cases
    assert first.now == datetime(2026, 1, 10, 6, 59, tzinfo=UTC)
    assert first.timezone == "Europe/Berlin"
    assert second.now == datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def test_load_test_file_reports_unknown_keys_with_their_lines() -> None:
    f = _load(
        "nope: 1\n" + CONTEXT + "  extra: 2\n"
        + 'cases:\n  - name: x\n    principal: User::"p"\n    action: GET\n'
        + '    resource: Route::"r"\n    expect: deny\n    polices: [a]\n'
    )  # fmt: skip
    codes = _codes(f)
    assert ("tests/t.yaml:1", "test_key_unknown") in codes
    assert ("tests/t.yaml:7", "test_key_unknown") in codes
    assert ("tests/t.yaml:14", "test_key_unknown") in codes


def test_load_test_file_rejects_bad_principal_syntax_with_a_hint() -> None:
    f = _load(
        CONTEXT + "cases:\n  - name: x\n    principal: User::pat\n    action: GET\n"
        '    resource: Route::"r"\n    expect: deny\n'
    )
    (case,) = f.cases
    assert case.request is None
    (error,) = case.errors
    assert (error.loc, error.code) == ("tests/t.yaml:8", "uid_invalid")
    assert 'User::"pat"' in error.msg


def test_load_test_file_reports_yaml_syntax_errors_with_a_line() -> None:
    f = _load("cases:\n  - name: x\n    principal: [\n")
    (error,) = f.errors
    assert error.code == "test_yaml_invalid"
    assert error.loc == "tests/t.yaml:4"


def test_load_test_file_rejects_duplicate_keys() -> None:
    f = _load("cases: []\ncases: []\n")
    assert [(e.loc, e.code) for e in f.errors] == [("tests/t.yaml:2", "test_yaml_invalid")]
    assert "duplicate key 'cases'" in f.errors[0].msg


def test_load_test_file_rejects_duplicate_case_names() -> None:
    case = '  - name: same\n    principal: User::"p"\n    action: GET\n    resource: Route::"r"\n    expect: deny\n'
    f = _load(CONTEXT + "cases:\n" + case + case)
    assert f.cases[0].errors == ()
    assert [e.code for e in f.cases[1].errors] == ["test_case_duplicate"]
    assert "line 7" in f.cases[1].errors[0].msg


def test_load_test_file_explains_floats_and_dates() -> None:
    f = _load(
        'cases:\n  - name: x\n    principal: User::"p"\n    action: GET\n    resource: Route::"r"\n'
        "    context: {device: {os_version: 15.1}, when: 2026-01-05}\n    expect: deny\n"
    )
    (error,) = f.cases[0].errors
    assert error.code == "test_value_invalid"
    assert "floating-point" in error.msg or "date" in error.msg


def test_load_test_file_rejects_an_outcome_that_contradicts_expect() -> None:
    f = _load(
        'cases:\n  - name: x\n    principal: User::"p"\n    action: GET\n    resource: Route::"r"\n'
        "    expect: allow\n    outcome: forbidden\n"
    )
    assert [(e.loc, e.code) for e in f.cases[0].errors] == [
        ("tests/t.yaml:7", "test_value_invalid")
    ]


def test_load_test_file_reads_outcome_and_empty_policies() -> None:
    f = _load(
        'cases:\n  - name: x\n    principal: User::"p"\n    action: GET\n    resource: Route::"r"\n'
        "    expect: deny\n    outcome: policy_error\n    policies: []\n"
    )
    expect = f.cases[0].expect
    assert expect is not None
    assert (expect.outcome, expect.policies) == (Outcome.POLICY_ERROR, ())


def test_load_test_file_rejects_unknown_time_zone_and_bad_now() -> None:
    f = _load("timezone: Mars/Base\nnow: tomorrow\ncases: []\n")
    codes = _codes(f)
    assert ("tests/t.yaml:1", "timezone_unknown") in codes
    assert ("tests/t.yaml:2", "time_invalid") in codes
    assert ("tests/t.yaml:3", "test_value_invalid") in codes  # `cases: []`


def test_load_test_file_reports_missing_fields_at_once() -> None:
    f = _load("cases:\n  - description: nothing else\n")
    (case,) = f.cases
    assert case.name == "case #1"
    assert {e.code for e in case.errors} == {"test_key_missing"}
    assert len(case.errors) == 5  # name, principal, action, resource, expect


def test_load_test_file_locates_bad_entities_by_item() -> None:
    f = _load(
        'entities:\n  - uid: User::"a"\n    attrs: {email: a@x}\n  - uid: 7\n'
        'cases:\n  - name: x\n    principal: User::"p"\n    action: GET\n    resource: Route::"r"\n'
        "    expect: deny\n"
    )
    assert [(e.loc, e.code) for e in f.errors] == [("tests/t.yaml:4", "entity_invalid")]


def test_load_test_file_refuses_alias_bombs() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    f = _load("\n".join(lines) + "\ncases: []\n")
    assert f.errors[0].code == "test_yaml_invalid"
    assert "too large" in f.errors[0].msg


def test_load_test_file_refuses_python_tags() -> None:
    f = _load("cases: !!python/object/apply:os.system [echo hi]\n")
    assert f.errors[0].code == "test_yaml_invalid"


def test_load_test_file_rejects_a_document_that_is_not_a_mapping() -> None:
    assert _load("- just\n- a list\n").errors[0].code == "test_file_invalid"


def test_parse_uid_reads_strings_mappings_and_action_shorthand() -> None:
    assert parse_uid('User::"pat"') == EntityUID("User", "pat")
    assert parse_uid('Ns::User::"a\\"b"') == EntityUID("Ns::User", 'a"b')
    assert parse_uid({"type": "Route", "id": "r"}) == EntityUID("Route", "r")
    assert parse_uid("GET", default_type="Action") == EntityUID("Action", "GET")
    assert parse_uid('Action::"GET"', default_type="Action") == EntityUID("Action", "GET")


@pytest.mark.parametrize(
    "bad", ["pat", "User::pat", 'User:"pat"', 'User::"pat', 'User::"\\q"', 3, {"type": "User"}]
)
def test_parse_uid_rejects_what_is_not_an_entity(bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_uid(bad)
    assert caught.value.code == "uid_invalid"


@given(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}(::[A-Za-z_][A-Za-z0-9_]{0,8}){0,2}", fullmatch=True),
    st.text(max_size=20),
)
def test_parse_uid_round_trips_entity_uid_str(entity_type: str, entity_id: str) -> None:
    uid = EntityUID(entity_type, entity_id)
    assert parse_uid(str(uid)) == uid
