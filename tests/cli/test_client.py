"""`zerogate client ...` as a user types it, against real stores."""

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


def test_client_add_list_rotate_disable_delete(store_url: str) -> None:
    code, added = _json(
        store_url,
        "client",
        "add",
        "Wiki",
        "--id",
        "wiki",
        "--redirect-uri",
        "https://wiki.example.test/oauth/callback",
    )
    assert code == 0
    assert added["client"]["client_id"] == "wiki"
    assert added["client"]["token_endpoint_auth_method"] == "client_secret_basic"
    assert len(added["client_secret"]) >= 43
    code, listed = _json(store_url, "client", "list")
    assert [c["client_id"] for c in listed["clients"]] == ["wiki"]
    assert added["client_secret"] not in json.dumps(listed)
    code, rotated = _json(store_url, "client", "rotate-secret", "wiki")
    assert code == 0
    assert rotated["client_secret"] != added["client_secret"]
    assert _json(store_url, "client", "disable", "wiki")[1] == {
        "client_id": "wiki",
        "result": "disabled",
    }
    assert _json(store_url, "client", "list")[1]["clients"][0]["disabled"] is True
    assert _run(store_url, "client", "delete", "wiki")[0] == 0
    assert _json(store_url, "client", "list")[1]["clients"] == []


def test_public_client_prints_no_secret(store_url: str) -> None:
    code, out, _ = _run(
        store_url,
        "client",
        "add",
        "CLI tool",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:8400/cb",
    )
    assert code == 0
    assert "registered client zg-" in out
    assert "secret" not in out


def test_bad_registration_lists_every_problem(store_url: str) -> None:
    code, body = _json(
        store_url,
        "client",
        "add",
        "Bad",
        "--redirect-uri",
        "http://evil.example.test/cb",
        "--redirect-uri",
        "https://ok.test/*",
        "--scope",
        "admin",
    )
    assert code == 1
    assert body["code"] == "client_invalid"
    locs = [e["loc"] for e in body["errors"]]
    assert "redirect_uris[0]" in locs
    assert "redirect_uris[1]" in locs
    assert "scopes" in locs


def test_unknown_client_is_a_clear_error(store_url: str) -> None:
    code, body = _json(store_url, "client", "disable", "ghost")
    assert code == 1
    assert body["code"] == "client_not_found"
