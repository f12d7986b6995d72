"""The `zerogate` root: version, global --json, usage errors, interrupts and the service commands."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from tests.cli._cli import run, run_json
from zerogate import __version__
from zerogate.cli import ExitCode
from zerogate.cli._app import ZerogateGroup


def test_version_prints_the_package_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"zerogate {__version__}"


def test_version_in_json_mode_is_a_json_document() -> None:
    assert run_json("--json", "--version") == (0, {"version": __version__})


def test_no_command_prints_help() -> None:
    result = run()
    assert result.exit_code == 0
    assert "policy" in result.stdout


def test_usage_error_exits_1_not_2_because_2_means_deny() -> None:
    result = run("policy", "explain", "examples/policies", "--principal", 'User::"pat"')
    assert result.exit_code == ExitCode.ERROR
    assert "Missing option" in result.stderr


def test_usage_error_in_json_mode_is_a_json_error_document() -> None:
    code, body = run_json("policy", "explain", "examples/policies", "--json")
    assert code == ExitCode.ERROR
    assert body["code"] == "usage_error"
    assert "Missing option" in body["message"]
    assert body["errors"] == []


def test_unknown_command_exits_1() -> None:
    assert run("policy", "frobnicate").exit_code == ExitCode.ERROR


def test_interrupt_exits_130() -> None:
    demo = typer.Typer(cls=ZerogateGroup)

    @demo.command()
    def slow() -> None:
        raise KeyboardInterrupt

    @demo.command()
    def other() -> None:
        """A second command, so `slow` stays a subcommand."""

    result = CliRunner().invoke(demo, ["slow"])
    assert result.exit_code == 130  # ExitCode.INTERRUPTED


def test_up_help_names_the_config_option() -> None:
    result = run("up", "--help")
    assert result.exit_code == 0
    assert "--config" in result.stdout


def test_serve_help_names_the_role_argument() -> None:
    result = run("serve", "--help")
    assert result.exit_code == 0
    assert "ROLE" in result.stdout
    assert "--config" in result.stdout


def test_exit_codes_are_stable() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0,
        "ERROR": 1,
        "DENY": 2,
        "NO_TESTS": 4,
        "INTERRUPTED": 130,
    }


def test_global_json_flag_applies_to_subcommands() -> None:
    result = run("--json", "policy", "validate", "examples/policies")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["ok"] is True
