"""`zerogate policy validate`: OK with hash and counts, or every error as file:line [code]."""

from __future__ import annotations

from pathlib import Path

from tests.cli._cli import EXAMPLES, copy_examples, run, run_json, write
from zerogate.cli import ExitCode


def test_validate_ok_prints_hash_and_policy_count() -> None:
    result = run("policy", "validate", EXAMPLES)
    assert result.exit_code == ExitCode.OK
    assert result.stdout.startswith("OK")
    assert "policies  9" in result.stdout


def test_validate_json_reports_hash_counts_and_files() -> None:
    code, body = run_json("policy", "validate", EXAMPLES, "--json")
    assert code == 0
    assert body["ok"] is True
    assert len(body["hash"]) == 64
    assert body["policies"] == 9
    assert body["policy_files"] == [
        "admin.cedar",
        "console.cedar",
        "guards.cedar",
        "payroll.cedar",
        "wiki.cedar",
    ]
    assert "tests/guards.yaml" in body["test_files"]


def test_validate_malformed_policy_points_at_file_and_line(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    write(
        bundle / "extra.cedar",
        '// header\n\n@id("broken")\npermit (principal, action, resource)\nwhen { context.authn.mfa && };\n',
    )
    result = run("policy", "validate", bundle)
    assert result.exit_code == ExitCode.ERROR
    assert f"{bundle.as_posix()}/extra.cedar:3: unexpected token" in result.stderr
    assert "[policy_syntax]" in result.stderr
    assert result.stdout == ""


def test_validate_schema_mismatch_points_at_the_policy(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    write(
        bundle / "extra.cedar",
        '\n@id("typo")\npermit (principal, action, resource)\nwhen { context.authn.mfaa };\n',
    )
    result = run("policy", "validate", bundle)
    assert result.exit_code == ExitCode.ERROR
    assert f"{bundle.as_posix()}/extra.cedar:2: " in result.stderr
    assert "[policy_schema_mismatch]" in result.stderr


def test_validate_missing_id_and_duplicate_id_are_both_reported(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    write(
        bundle / "zz.cedar",  # read after wiki.cedar, so the duplicate is this one
        'permit (principal, action, resource);\n\n@id("wiki-read")\npermit (principal, action, resource);\n',
    )
    code, body = run_json("policy", "validate", bundle, "--json")
    assert code == ExitCode.ERROR
    assert body["code"] == "policy_invalid"
    found = {(e["loc"], e["code"]) for e in body["errors"]}
    assert ("zz.cedar:1", "policy_id_missing") in found
    assert ("zz.cedar:3", "policy_id_duplicate") in found


def test_validate_bad_entities_json_is_located(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    write(
        bundle / "entities.json", '[\n  {"uid": {"type": "Group", "id": "x"}},\n  {"uid": 3}\n]\n'
    )
    result = run("policy", "validate", bundle)
    assert result.exit_code == ExitCode.ERROR
    assert "entities.json[1]" in result.stderr
    assert "[entity_invalid]" in result.stderr


def test_validate_unparsable_entities_json_gives_line_and_column(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    write(bundle / "entities.json", "[\n  {,\n]\n")
    code, body = run_json("policy", "validate", bundle, "--json")
    assert code == ExitCode.ERROR
    assert body["errors"][0]["code"] == "json_invalid"
    assert body["errors"][0]["loc"].startswith("entities.json:2:")


def test_validate_errors_are_sorted_by_line_as_a_number(tmp_path: Path) -> None:
    bundle = copy_examples(tmp_path)
    lines = ['@id("a") permit (principal, action, resource) when { };']
    lines += [""] * 8 + ['@id("b") permit (principal, action, resource) when { };']
    write(bundle / "extra.cedar", "\n".join(lines) + "\n")
    stderr = run("policy", "validate", bundle).stderr
    assert stderr.index("extra.cedar:1:") < stderr.index("extra.cedar:10:")


def test_validate_missing_directory_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    code, body = run_json("policy", "validate", tmp_path / "nope", "--json")
    assert code == ExitCode.ERROR
    assert body == {
        "code": "bundle_not_found",
        "message": f"policy bundle directory not found: {tmp_path / 'nope'}",
        "errors": [],
    }
