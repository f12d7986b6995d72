"""`zerogate route add|list|remove`: zerogate.toml edited in place, checked before it is saved."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.cli._cli import run, run_json, write
from zerogate.config import load_settings

CONFIG = """\
# Zerogate for the team wiki.
data_dir = ".zerogate"   # beside this file

[gateway]
port = 8080

# The wiki, owned by the docs team.
[routes.wiki]
from = "wiki.localhost/"  # people type this
to = "http://127.0.0.1:3000"

# Payments: ask for a fresh second factor.
[routes.pay]
from = "pay.localhost/"
to = "http://127.0.0.1:4000"
mfa_max_age_s = 600

[server]
port = 8181
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write(tmp_path / "zerogate.toml", CONFIG)


def _add(config: Path, name: str, *args: str) -> tuple[int, str]:
    result = run("route", "add", name, *args, "--config", config)
    return result.exit_code, result.stdout + result.stderr


def test_route_add_keeps_comments_and_layout_and_remove_restores_the_file(config: Path) -> None:
    code, text = _add(
        config,
        "crm",
        *("--from", "crm.localhost:8080/app", "--to", "http://127.0.0.1:5000"),
        *("--policy", "crm-web", "--websockets", "--timeout", "12.5"),
        *("--mfa-max-age", "300", "--pass-header", "x-tenant", "--pass-header", "x-region"),
    )
    assert code == 0, text
    assert "added route crm" in text
    edited = config.read_text()
    assert edited.startswith(CONFIG.split("[server]")[0])  # everything above untouched
    assert (
        '[routes.crm]\nfrom = "crm.localhost:8080/app"\nto = "http://127.0.0.1:5000"\n'
        'policy = "crm-web"\nwebsockets = true\ntimeout_s = 12.5\nmfa_max_age_s = 300\n'
        'pass_headers = ["x-tenant", "x-region"]\n\n[server]\nport = 8181\n'
    ) in edited
    crm = load_settings(config).routes["crm"]
    assert (crm.from_, crm.to, crm.policy, crm.websockets) == (
        "crm.localhost:8080/app",
        "http://127.0.0.1:5000",
        "crm-web",
        True,
    )
    assert (crm.timeout_s, crm.mfa_max_age_s, crm.pass_headers) == (
        12.5,
        300,
        ("x-tenant", "x-region"),
    )

    result = run("route", "remove", "crm", "--config", config)
    assert result.exit_code == 0, result.output
    assert config.read_text() == CONFIG


def test_route_remove_takes_the_comments_above_it_and_leaves_the_next_ones(config: Path) -> None:
    result = run("route", "remove", "wiki", "--config", config)
    assert result.exit_code == 0, result.output
    assert config.read_text() == CONFIG.replace(
        '# The wiki, owned by the docs team.\n[routes.wiki]\nfrom = "wiki.localhost/"  '
        '# people type this\nto = "http://127.0.0.1:3000"\n\n',
        "",
    )
    assert "# Payments: ask for a fresh second factor.\n[routes.pay]" in config.read_text()


def test_route_remove_of_an_inline_table_route(tmp_path: Path) -> None:
    config = write(
        tmp_path / "zerogate.toml",
        '[routes]\nwiki = { from = "wiki.localhost/", to = "http://127.0.0.1:3000" }\n'
        'docs = { from = "docs.localhost/", to = "http://127.0.0.1:3001" }  # keep me\n',
    )
    result = run("route", "remove", "wiki", "--config", config)
    assert result.exit_code == 0, result.output
    assert config.read_text() == (
        '[routes]\ndocs = { from = "docs.localhost/", to = "http://127.0.0.1:3001" }  # keep me\n'
    )


def test_route_list_shows_the_routes_as_a_table_and_as_json(config: Path) -> None:
    result = run("route", "list", "--config", config)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("pay" in line and "pay.localhost/" in line and "mfa" in line for line in lines)
    assert any("wiki" in line and "http://127.0.0.1:3000" in line for line in lines)
    code, payload = run_json("--json", "route", "list", "--config", config)
    assert code == 0
    assert [r["name"] for r in payload["routes"]] == ["pay", "wiki"]
    assert payload["routes"][0] == {
        "name": "pay",
        "from": "pay.localhost/",
        "to": "http://127.0.0.1:4000",
        "policy": "pay",
        "allow_public": False,
        "websockets": False,
        "timeout_s": 30.0,
        "mfa_max_age_s": 600,
        "fail_mode": "closed",
        "pass_headers": [],
        "webhook": False,
    }


def test_route_list_never_shows_a_webhook_secret(tmp_path: Path) -> None:
    secret = "whsec-0123456789abcdefghijklmnopqrstuvwxyz"
    config = write(
        tmp_path / "zerogate.toml",
        f'[routes.hooks]\nfrom = "hooks.localhost/"\nto = "http://127.0.0.1:3000"\n'
        f'webhook_secret = "{secret}"\n',
    )
    for args in (("route", "list"), ("--json", "route", "list")):
        result = run(*args, "--config", config)
        assert result.exit_code == 0, result.output
        assert "webhook" in result.stdout
        assert secret not in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "loc"),
    [
        # the settings loader
        (("--from", "crm.localhost/", "--to", "ftp://127.0.0.1"), "config_invalid", "routes.crm.to"),
        (("--from", "crm.localhost/", "--to", "http://x", "--public", "--mfa-max-age", "60"),
         "config_invalid", "routes.crm.mfa_max_age_s"),
        (("--from", "crm.localhost/", "--to", "http://x", "--timeout", "0"),
         "config_invalid", "routes.crm.timeout_s"),
        # the Envoy route model, as the gateway builds it
        (("--from", "crm.localhost/a/../b", "--to", "http://x"),
         "route_path_invalid", "routes.crm.path_prefix"),
        # (the later of the two in name order is the one reported)
        (("--from", "wiki.localhost/", "--to", "http://x"), "route_duplicate", "routes.wiki.path_prefix"),
        (("--from", "crm.localhost/", "--to", "http://x", "--pass-header", "x-zerogate-user"),
         "route_header_invalid", "routes.crm.pass_headers[0]"),
        # the check service's view: routes sharing a policy id must agree
        (("--from", "crm.localhost/", "--to", "http://x", "--policy", "pay"),
         "config_invalid", "routes.pay.policy"),
    ],
)  # fmt: skip
def test_route_add_refuses_what_the_gateway_would_refuse_and_leaves_the_file(
    config: Path, args: tuple[str, ...], code: str, loc: str
) -> None:
    before = config.read_bytes()
    result = run("--json", "route", "add", "crm", *args, "--config", config)
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (code, f"{config}:{loc}") in {(e["code"], e["loc"]) for e in payload["errors"]}
    assert config.read_bytes() == before
    assert sorted(p.name for p in config.parent.iterdir()) == ["zerogate.toml"]  # no temp file


def test_route_add_error_names_code_and_location_for_people(config: Path) -> None:
    before = config.read_bytes()
    code, text = _add(config, "crm", "--from", "crm.localhost/", "--to", "nope")
    assert code == 1
    assert f"{config}:routes.crm.to: an http(s) URL of the upstream" in text
    assert "[config_invalid]" in text
    assert config.read_bytes() == before


def test_route_add_refuses_a_taken_name(config: Path) -> None:
    before = config.read_bytes()
    code, text = _add(config, "wiki", "--from", "other.localhost/", "--to", "http://x")
    assert code == 1
    assert "[route_duplicate]" in text
    assert f"{config}:routes.wiki" in text
    assert config.read_bytes() == before


def test_route_add_refuses_a_bad_name(config: Path) -> None:
    before = config.read_bytes()
    code, text = _add(config, "My App", "--from", "other.localhost/", "--to", "http://x")
    assert code == 1
    assert "[config_invalid]" in text
    assert config.read_bytes() == before


def test_route_remove_of_an_unknown_route_fails(config: Path) -> None:
    before = config.read_bytes()
    result = run("route", "remove", "nope", "--config", config)
    assert result.exit_code == 1
    assert "[route_not_found]" in result.stderr
    assert config.read_bytes() == before


def test_route_add_creates_zerogate_toml_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(
        "route",
        "add",
        "app",
        "--from",
        "app.localhost",
        "--to",
        "http://127.0.0.1:3000",
        "--public",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "zerogate.toml").read_text() == (
        '[routes.app]\nfrom = "app.localhost"\nto = "http://127.0.0.1:3000"\nallow_public = true\n'
    )
    assert stat.S_IMODE((tmp_path / "zerogate.toml").stat().st_mode) == 0o600  # may hold secrets


def test_route_add_keeps_the_files_permissions(config: Path) -> None:
    config.chmod(0o640)
    code, text = _add(config, "crm", "--from", "crm.localhost/", "--to", "http://127.0.0.1:5000")
    assert code == 0, text
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


def test_route_add_with_a_missing_config_file_fails(tmp_path: Path) -> None:
    code, text = _add(
        tmp_path / "absent.toml", "crm", "--from", "crm.localhost/", "--to", "http://x"
    )
    assert code == 1
    assert "[config_not_found]" in text
    assert not (tmp_path / "absent.toml").exists()


def test_route_edit_of_a_file_that_is_not_toml_changes_nothing(tmp_path: Path) -> None:
    config = write(tmp_path / "zerogate.toml", "[routes.wiki\nfrom = 1\n")
    code, text = _add(config, "crm", "--from", "crm.localhost/", "--to", "http://x")
    assert code == 1
    assert "[config_syntax]" in text
    assert config.read_text() == "[routes.wiki\nfrom = 1\n"
