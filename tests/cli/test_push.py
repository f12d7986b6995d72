"""`zerogate policy push` / `history` against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from zerogate.cli import app
from zerogate.policy import Bundle

from ._cli import EXAMPLES


def _run(store_url: str, *args: str) -> tuple[int, str, str]:
    env = {"ZEROGATE_STORE__URL": store_url, "COLUMNS": "200", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_push_activates_bundle_and_history_lists_it(store_url: str) -> None:
    code, out, _ = _run(store_url, "policy", "push", str(EXAMPLES), "--actor", "alice")
    assert code == 0, out
    assert Bundle.from_dir(EXAMPLES).hash in out
    code, out, _ = _run(store_url, "--json", "policy", "history")
    assert code == 0
    activations = json.loads(out)["activations"]
    assert [(a["bundle"], a["activated_by"]) for a in activations] == [
        (Bundle.from_dir(EXAMPLES).hash, "alice")
    ]


def test_push_rejects_invalid_bundle_and_keeps_the_active_one(
    store_url: str, tmp_path: Path
) -> None:
    assert _run(store_url, "policy", "push", str(EXAMPLES))[0] == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "p.cedar").write_text("permit (principal, action, resource);\n")
    code, out, _ = _run(store_url, "--json", "policy", "push", str(bad))
    assert code == 1
    body = json.loads(out)
    assert body["code"] == "policy_invalid"
    assert body["errors"][0]["code"] == "policy_id_missing"
    assert body["errors"][0]["loc"].endswith("p.cedar:1")
    code, out, _ = _run(store_url, "--json", "policy", "history")
    assert [a["bundle"] for a in json.loads(out)["activations"]] == [Bundle.from_dir(EXAMPLES).hash]


def test_history_on_an_empty_store_says_so(store_url: str) -> None:
    code, out, _ = _run(store_url, "policy", "history")
    assert code == 0
    assert "no policy bundle has been activated yet" in out
