"""`zerogate group ...` against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from zerogate.cli import app


def _run(store_url: str, *args: str) -> tuple[int, str, str]:
    env = {"ZEROGATE_STORE__URL": store_url, "COLUMNS": "200", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _json(store_url: str, *args: str) -> tuple[int, Any]:
    code, out, _ = _run(store_url, "--json", *args)
    return code, json.loads(out)


def test_group_lifecycle(store_url: str) -> None:
    for name in ("ada", "bob"):
        args = ["user", "add", name, "--email", f"{name}@example.com", "--no-password"]
        assert _run(store_url, *args)[0] == 0
    code, body = _json(store_url, "group", "add", "Engineering", "--description", "Builders")
    assert code == 0
    assert (body["group"]["name"], body["group"]["description"]) == ("engineering", "Builders")
    code, body = _json(store_url, "group", "add-member", "engineering", "ada")
    assert (code, body["change"]["kind"], body["change"]["id"]) == (0, "membership_changed", "ada")
    code, out, _ = _run(store_url, "group", "add-member", "engineering", "bob@example.com")
    assert (code, out.strip()) == (0, "added to engineering: bob")
    code, body = _json(store_url, "group", "list")
    assert body["groups"][0]["members"] == ["ada", "bob"]
    code, out, _ = _run(store_url, "group", "list")
    assert "engineering" in out
    assert "ada, bob" in out
    code, out, _ = _run(store_url, "group", "remove-member", "engineering", "ada")
    assert (code, out.strip()) == (0, "removed from engineering: ada")
    code, body = _json(store_url, "group", "delete", "engineering", "-y")
    assert code == 0
    assert [c["kind"] for c in body["changes"]] == ["group_deleted", "membership_changed"]
    code, out, _ = _run(store_url, "group", "list")
    assert "no groups yet" in out


def test_group_errors_have_codes(store_url: str) -> None:
    assert (
        _run(store_url, "user", "add", "ada", "--email", "ada@example.com", "--no-password")[0] == 0
    )
    assert _run(store_url, "group", "add", "staff")[0] == 0
    assert _run(store_url, "group", "add-member", "staff", "ada")[0] == 0
    cases = [
        (["add", "staff"], "group_exists"),
        (["add", "bad name"], "group_name_invalid"),
        (["add-member", "nope", "ada"], "group_not_found"),
        (["add-member", "staff", "ghost"], "user_not_found"),
        (["add-member", "staff", "ada"], "member_exists"),
        (["remove-member", "staff", "ghost@example.com"], "user_not_found"),
        (["delete", "staff"], "confirmation_required"),
        (["delete", "nope", "--yes"], "group_not_found"),
    ]
    for args, expected in cases:
        code, body = _json(store_url, "group", *args)
        assert (code, body["code"]) == (1, expected), args
    code, _, err = _run(store_url, "group", "add-member", "nope", "ada")
    assert code == 1
    assert "error: no such group [group_not_found]" in err
