"""`zerogate user ...` against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from zerogate.cli import app

PASSWORD = "correct horse battery staple"


def _run(store_url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    env = {"ZEROGATE_STORE__URL": store_url, "COLUMNS": "200", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def _json(store_url: str, *args: str, stdin: str | None = None) -> tuple[int, Any]:
    code, out, _ = _run(store_url, "--json", *args, stdin=stdin)
    return code, json.loads(out)


def test_user_add_list_show(store_url: str) -> None:
    assert _run(store_url, "group", "add", "staff")[0] == 0
    code, out, err = _run(
        store_url,
        "user",
        "add",
        "Alice",
        "--email",
        "Alice@Example.com",
        "--display-name",
        "Alice L",
        "--group",
        "staff",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    assert "CREATED  alice" in out
    assert PASSWORD not in out + err
    code, body = _json(store_url, "user", "list")
    assert code == 0
    [alice] = body["users"]
    assert (alice["username"], alice["email"], alice["display_name"]) == (
        "alice",
        "alice@example.com",
        "Alice L",
    )
    assert alice["has_password"] is True
    assert alice["disabled"] is False
    assert "password_hash" not in alice
    code, body = _json(store_url, "user", "show", "alice@example.com")
    assert body["user"]["groups"] == ["staff"]
    code, out, _ = _run(store_url, "user", "show", "alice")
    assert code == 0
    assert "status    active" in out
    assert "groups    staff" in out
    code, out, _ = _run(store_url, "user", "list")
    assert "alice@example.com" in out
    assert "active" in out


def test_user_add_errors_have_codes_and_store_nothing(store_url: str) -> None:
    cases: list[tuple[list[str], str | None, str]] = [
        (["bad name", "--email", "a@example.com", "--no-password"], None, "username_invalid"),
        (["bob", "--email", "not-an-email", "--no-password"], None, "email_invalid"),
        (
            ["bob", "--email", "b@example.com", "--password-stdin"],
            "password\n",
            "password_too_weak",
        ),
        (["bob", "--email", "b@example.com", "--password-stdin"], "", "password_missing"),
        (["bob", "--email", "b@example.com"], None, "password_missing"),  # no terminal
        (
            ["bob", "--email", "b@example.com", "--no-password", "--password-stdin"],
            "",
            "usage_error",
        ),
    ]
    for args, stdin, expected in cases:
        code, body = _json(store_url, "user", "add", *args, stdin=stdin)
        assert (code, body["code"]) == (1, expected), args
    assert _json(store_url, "user", "list")[1] == {"users": []}
    code, _, err = _run(store_url, "user", "add", "bob", "--email", "x")
    assert code == 1
    assert "[email_invalid]" in err


def test_user_add_twice_is_a_conflict(store_url: str) -> None:
    args = ["user", "add", "bob", "--email", "bob@example.com", "--no-password"]
    assert _run(store_url, *args)[0] == 0
    code, body = _json(store_url, *args)
    assert (code, body["code"]) == (1, "user_exists")


def test_user_disable_enable_delete(store_url: str) -> None:
    assert (
        _run(store_url, "user", "add", "bob", "--email", "bob@example.com", "--no-password")[0] == 0
    )
    code, body = _json(store_url, "user", "disable", "bob")
    assert code == 0
    assert body["change"]["kind"] == "user_disabled"
    assert body["change"]["revokes_sessions"] is True
    assert _json(store_url, "user", "show", "bob")[1]["user"]["disabled"] is True
    code, out, _ = _run(store_url, "user", "enable", "bob")
    assert (code, out.strip()) == (0, "enabled bob")
    code, body = _json(store_url, "user", "delete", "bob")
    assert (code, body["code"]) == (1, "confirmation_required")
    code, body = _json(store_url, "user", "delete", "bob", "--yes")
    assert (code, body["change"]["kind"]) == (0, "user_deleted")
    for command in ("show", "disable", "enable"):
        code, body = _json(store_url, "user", command, "bob")
        assert (code, body["code"]) == (1, "user_not_found")


def test_user_passwd_reads_stdin(store_url: str) -> None:
    assert (
        _run(store_url, "user", "add", "bob", "--email", "bob@example.com", "--no-password")[0] == 0
    )
    code, body = _json(store_url, "user", "passwd", "bob", "--password-stdin", stdin="bob\n")
    assert (code, body["code"]) == (1, "password_too_weak")
    code, body = _json(store_url, "user", "passwd", "bob")
    assert (code, body["code"]) == (1, "password_missing")
    code, out, err = _run(
        store_url, "user", "passwd", "bob", "--password-stdin", stdin=PASSWORD + "\r\n"
    )
    assert code == 0, err
    assert out.strip() == "password set for bob"
    assert _json(store_url, "user", "show", "bob")[1]["user"]["has_password"] is True


def test_user_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["user", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in ("add", "list", "show", "disable", "enable", "delete", "passwd"):
        assert command in result.stdout
    add_help = CliRunner().invoke(app, ["user", "add", "--help"], env={"COLUMNS": "200"})
    assert "--password-stdin" in add_help.stdout
    assert "--password " not in add_help.stdout  # never a password as an argument


def test_user_add_follows_the_configured_password_policy(store_url: str) -> None:
    """`[identity] password_min_length` (here from the environment) reaches the CLI's Directory."""
    env = {
        "ZEROGATE_STORE__URL": store_url,
        "ZEROGATE_IDENTITY__PASSWORD_MIN_LENGTH": "40",
        "COLUMNS": "200",
    }
    args = ["--json", "user", "add", "bob", "--email", "b@example.com", "--password-stdin"]
    result = CliRunner().invoke(app, args, env=env, input=PASSWORD + "\n")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["code"] == "password_too_weak"
    assert body["errors"][0]["code"] == "password_too_short"
    assert (
        _run(
            store_url,
            "user",
            "add",
            "bob",
            "--email",
            "b@example.com",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )[0]
        == 0
    )
