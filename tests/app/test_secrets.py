"""The master key: a private key file on one machine, or the configured `store.secret_key`."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from zerogate.app._secrets import KEY_FILE, sealer_for
from zerogate.config import load_settings
from zerogate.errors import ConfigError
from zerogate.store import new_master_key


def test_one_machine_gets_a_private_key_file_made_once(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"ZEROGATE_DATA_DIR": str(tmp_path / "data")})
    first = sealer_for(settings)
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.seal("seed", context="c")
    assert sealer_for(settings).unseal(sealed, context="c") == "seed"  # the same key next start


def test_the_configured_key_wins_and_the_file_is_not_made(tmp_path: Path) -> None:
    env = {"ZEROGATE_DATA_DIR": str(tmp_path), "ZEROGATE_STORE__SECRET_KEY": new_master_key("prod")}
    sealer = sealer_for(load_settings(None, environ=env))
    assert sealer.seal("x", context="c").startswith("zgs1.prod.")
    assert not (tmp_path / KEY_FILE).exists()
    assert len(sealer.derive("forms")) == 32
    assert sealer.derive("forms") != sealer.derive("other")


def test_a_malformed_configured_key_is_a_clear_error(tmp_path: Path) -> None:
    env = {"ZEROGATE_DATA_DIR": str(tmp_path), "ZEROGATE_STORE__SECRET_KEY": "prod:short"}
    with pytest.raises(ConfigError) as raised:
        sealer_for(load_settings(None, environ=env))
    assert raised.value.code == "store_secret_key_invalid"
