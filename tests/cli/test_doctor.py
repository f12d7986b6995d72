"""`zerogate doctor` against real temp setups: a SQLite store, key files, Envoy's own validation."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from zerogate.app import _gateway_service, _secrets
from zerogate.cli import _doctor
from zerogate.cli import app as cli
from zerogate.config import RouteSettings, Secret
from zerogate.store import new_master_key, open_store, parse_master_keys
from zerogate.tokens import StoreKeyRing


def _invoke(config: Path, *args: str) -> Result:
    # Only this test's settings: no ZEROGATE_* from the environment running the suite.
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ZEROGATE_")}
    env |= {"COLUMNS": "200", "NO_COLOR": "1"}
    return CliRunner().invoke(cli, ["doctor", "--config", str(config), *args], env=env)


def _checks(config: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    result = _invoke(config, "--json")
    document = json.loads(result.stdout)
    assert document["ok"] is (result.exit_code == 0)
    return result.exit_code, {c["check"]: c for c in document["checks"]}


def _setup(tmp_path: Path, extra: str = "", *, migrated: bool = True, keys: bool = True) -> Path:
    """A zerogate.toml with its data dir: a 0600 master key, the store, an active signing key."""
    data = tmp_path / "data"
    data.mkdir()
    key_file = data / "master.key"
    key_file.write_text(new_master_key() + "\n")
    key_file.chmod(0o600)
    store = open_store(
        f"sqlite:///{data / 'zerogate.db'}", sealer=parse_master_keys(key_file.read_text().strip())
    )
    try:
        if migrated:
            store.migrate()
        if keys:
            asyncio.run(StoreKeyRing(store).ensure_active(datetime.now(UTC)))
    finally:
        store.close()
    config = tmp_path / "zerogate.toml"
    config.write_text(f'data_dir = "{data}"\n[server]\nport = 0\n[gateway]\nport = 0\n{extra}')
    return config


def test_doctor_healthy_setup_passes(tmp_path: Path) -> None:
    config = _setup(
        tmp_path, '[routes.wiki]\nfrom = "wiki.localhost/"\nto = "http://127.0.0.1:3000"\n'
    )
    code, checks = _checks(config)
    assert code == 0
    assert {name: c["status"] for name, c in checks.items()} == {
        "configuration": "ok",
        "envoy": "ok",
        "master key": "ok",
        "store": "ok",
        "signing keys": "ok",
        "port server.port": "ok",
        "port gateway.port": "ok",
        "local tls": "ok",
        "routes": "ok",
    }
    assert "the JWKS would publish 1 key(s)" in checks["signing keys"]["detail"]
    assert checks["routes"]["detail"].startswith("wiki; Envoy accepts")
    text = _invoke(config)
    assert text.exit_code == 0
    assert "ready: no check failed, 0 warning(s)" in text.stdout


def test_doctor_bad_route_fails_naming_the_route(tmp_path: Path) -> None:
    config = _setup(tmp_path, '[routes.wiki]\nfrom = "*/"\nto = "http://127.0.0.1:3000"\n')
    result = _invoke(config)
    assert result.exit_code == 1
    assert "routes.wiki." in result.stdout  # where the problem is, with what to do about it
    assert "1 check(s) failed" in result.stdout
    code, checks = _checks(config)
    assert code == 1
    failed = [c for c in checks.values() if c["status"] == "fail"]
    assert [e["loc"].split(".")[:2] for c in failed for e in c["errors"]] == [["routes", "wiki"]]


def test_doctor_world_readable_key_file_warns(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    key_file = tmp_path / "data" / "master.key"
    key_file.chmod(0o644)
    code, checks = _checks(config)
    assert code == 0  # a warning, not a failure
    assert checks["master key"]["status"] == "warn"
    assert "mode 0644" in checks["master key"]["detail"]
    assert checks["master key"]["remedy"] == f"chmod 600 {key_file}"


def test_doctor_store_not_migrated_needs_migrate(tmp_path: Path) -> None:
    config = _setup(tmp_path, migrated=False, keys=False)
    code, checks = _checks(config)
    assert code == 0  # every service migrates on start
    assert checks["store"]["status"] == "warn"
    assert checks["store"]["detail"].startswith("needs migrate")
    assert "zerogate up" in checks["store"]["remedy"]
    assert checks["signing keys"]["status"] == "skip"


def test_doctor_missing_database_needs_migrate_and_is_not_created(tmp_path: Path) -> None:
    config = _setup(tmp_path, migrated=False, keys=False)
    (tmp_path / "data" / "zerogate.db").unlink()
    _, checks = _checks(config)
    assert checks["store"]["detail"].startswith("needs migrate: no database at")
    assert not (tmp_path / "data" / "zerogate.db").exists()


def test_doctor_keys_sealed_with_another_master_key_fail(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    (tmp_path / "data" / "master.key").write_text(new_master_key() + "\n")
    code, checks = _checks(config)
    assert code == 1
    assert checks["signing keys"]["status"] == "fail"
    assert "master key" in checks["signing keys"]["remedy"]


def test_doctor_port_in_use_fails(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = _setup(tmp_path)
        config.write_text(
            config.read_text().replace("[server]\nport = 0", f"[server]\nport = {port}")
        )
        code, checks = _checks(config)
    assert code == 1
    assert checks["port server.port"]["status"] == "fail"
    assert "server.port" in checks["port server.port"]["remedy"]


def test_doctor_invalid_configuration_lists_every_error(tmp_path: Path) -> None:
    config = tmp_path / "zerogate.toml"
    config.write_text("[gateway]\nport = -1\nconcurrency = 0\n")
    code, checks = _checks(config)
    assert code == 1
    assert checks["configuration"]["status"] == "fail"
    locs = [e["loc"] for e in checks["configuration"]["errors"]]
    assert any("gateway.port" in loc for loc in locs)
    assert any("gateway.concurrency" in loc for loc in locs)
    assert checks["store"]["status"] == "skip"


@pytest.mark.parametrize("webhook", [False, True], ids=["signed-in", "webhook"])
def test_doctor_routes_match_what_the_gateway_service_runs(webhook: bool) -> None:
    """Doctor validates the same Envoy routes `zerogate up` builds (kept in step by this test)."""
    conf = RouteSettings(
        from_="https://app.example.test:8443/docs",
        to="http://127.0.0.1:3000",
        policy="wiki-web",
        websockets=True,
        timeout_s=5,
        pass_headers=("x-tenant",),
        webhook_secret=Secret("s" * 40 if webhook else ""),
    )
    assert _doctor._route("wiki", conf) == _gateway_service.envoy_route("wiki", conf)
    assert _doctor.KEY_FILE == _secrets.KEY_FILE
