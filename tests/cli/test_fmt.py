"""`zerogate policy fmt`: rewrite in place, --check, and never lose a comment."""

from __future__ import annotations

from pathlib import Path

from tests.cli._cli import copy_examples, run, run_json, write
from zerogate.cli import ExitCode

COMMENTED = """\
// Header: why these policies exist.

// Engineers edit the wiki.
@id("wiki-write") // the id names it in audit
permit (principal in Group::"engineering", action in Action::"write", resource in App::"wiki")
when {
  // MFA: RFC 8176 amr values are checked elsewhere.
  context.authn.mfa // must be true
};
// trailing note
"""


def _messy_examples(tmp_path: Path) -> Path:
    """The example bundle with guards.cedar squashed onto single lines, as people type it."""
    bundle = copy_examples(tmp_path)
    guards = bundle / "guards.cedar"
    squashed = []
    for line in guards.read_text().splitlines():
        if line.startswith(("  ", ")", "when", "unless")) and not line.lstrip().startswith("//"):
            squashed[-1] += " " + line.strip()
        else:
            squashed.append(line)
    guards.write_text("\n".join(squashed) + "\n")
    return bundle


def _comments(text: str) -> list[str]:
    return [line.strip()[line.strip().index("//") :] for line in text.splitlines() if "//" in line]


def test_fmt_rewrites_files_and_then_they_pass_check(tmp_path: Path) -> None:
    bundle = _messy_examples(tmp_path)
    result = run("policy", "fmt", bundle)
    assert result.exit_code == ExitCode.OK
    assert f"reformatted {bundle.as_posix()}/guards.cedar" in result.stdout
    assert run("policy", "fmt", bundle, "--check").exit_code == ExitCode.OK
    assert run("policy", "validate", bundle).exit_code == ExitCode.OK


def test_fmt_check_lists_files_and_changes_nothing(tmp_path: Path) -> None:
    bundle = _messy_examples(tmp_path)
    before = (bundle / "guards.cedar").read_text()
    result = run("policy", "fmt", bundle, "--check")
    assert result.exit_code == ExitCode.ERROR
    assert f"would reformat {bundle.as_posix()}/guards.cedar" in result.stdout
    assert "file(s) would be reformatted" in result.stdout
    assert (bundle / "guards.cedar").read_text() == before


def test_fmt_keeps_every_comment(tmp_path: Path) -> None:
    path = write(tmp_path / "wiki.cedar", COMMENTED)
    assert run("policy", "fmt", path).exit_code == ExitCode.OK
    formatted = path.read_text()
    assert formatted != COMMENTED
    assert _comments(formatted) == _comments(COMMENTED)


def test_fmt_of_a_formatted_file_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "wiki.cedar", COMMENTED)
    run("policy", "fmt", path)
    once = path.read_text()
    code, body = run_json("policy", "fmt", path, "--check", "--json")
    assert code == ExitCode.OK
    assert body["changed"] == []
    assert path.read_text() == once


def test_fmt_syntax_error_leaves_the_file_and_points_at_the_line(tmp_path: Path) -> None:
    text = '// keep me\n@id("x")\npermit (principal, action, resource) when { true && };\n'
    path = write(tmp_path / "bad.cedar", text)
    result = run("policy", "fmt", path)
    assert result.exit_code == ExitCode.ERROR
    assert f"{path.as_posix()}:2: unexpected token" in result.stderr
    assert "[policy_syntax]" in result.stderr
    assert path.read_text() == text


def test_fmt_json_reports_changed_files(tmp_path: Path) -> None:
    bundle = _messy_examples(tmp_path)
    code, body = run_json("policy", "fmt", bundle, "--check", "--json")
    assert code == ExitCode.ERROR
    assert body["ok"] is False
    assert f"{bundle.as_posix()}/guards.cedar" in body["changed"]


def test_fmt_json_errors_use_the_error_shape(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.cedar", "permit (;\n")
    code, body = run_json("policy", "fmt", path, "--json")
    assert code == ExitCode.ERROR
    assert body["code"] == "policy_fmt_failed"
    assert body["errors"][0]["code"] == "policy_syntax"
    assert body["changed"] == []


def test_fmt_refuses_a_file_that_is_not_cedar(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", "hello")
    code, body = run_json("policy", "fmt", path, "--json")
    assert code == ExitCode.ERROR
    assert body["code"] == "input_not_cedar"


def test_fmt_missing_path_is_an_error(tmp_path: Path) -> None:
    assert run("policy", "fmt", tmp_path / "nope").exit_code == ExitCode.ERROR


def test_fmt_keeps_the_file_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "wiki.cedar", COMMENTED)
    path.chmod(0o640)
    run("policy", "fmt", path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_fmt_check_passes_on_the_shipped_examples() -> None:
    from tests.cli._cli import EXAMPLES

    assert run("policy", "fmt", EXAMPLES, "--check").exit_code == ExitCode.OK
